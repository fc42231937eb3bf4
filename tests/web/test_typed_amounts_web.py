"""Amounts typed in the admin UI are read in the organization's locale by one parser, and the refund dialog says
exactly what will be sent before it is sent. What Stripe holds is checked in the local Stripe."""

import pytest

from flexbill.billing import stripe_reads
from flexbill.billing.models import CreditNote, Refund

pytestmark = pytest.mark.django_db
KEY = {"idempotency_key": "web-0123456789abcdef"}  # the refund dialog's one-time key, as the page sends it


@pytest.fixture
def signed_in(client, make_member):
    def sign_in(organization):
        client.force_login(make_member(organization, "owner").user)
        return client

    return sign_in


@pytest.fixture
def german_charge(make_org, make_paid_charge):
    return make_paid_charge(make_org(currency="eur", locale="de_DE"), amount=15000)


@pytest.fixture
def american_euro_charge(make_org, make_paid_charge):
    return make_paid_charge(make_org(currency="eur", locale="en_US"), amount=15000)


def stripe_refund_amounts(charge) -> list[int]:
    return [refund.amount for refund in stripe_reads.charge_stripe_details(charge=charge).refunds]


def test_refund_of_12_50_typed_the_german_way_refunds_exactly_1250_in_stripe(signed_in, german_charge):
    client = signed_in(german_charge.organization)

    response = client.post(f"/charges/{german_charge.pk}/refund/", {"amount": "12,50", "reason": "other", **KEY})

    assert response.status_code == 302
    assert list(Refund.objects.filter(charge=german_charge).values_list("amount", flat=True)) == [1250]
    assert stripe_refund_amounts(german_charge) == [1250]


def test_refund_of_12_50_with_a_comma_in_an_en_us_organization_is_refused_and_refunds_nothing(
    signed_in, american_euro_charge
):
    client = signed_in(american_euro_charge.organization)

    response = client.post(
        f"/charges/{american_euro_charge.pk}/refund/",
        {"amount": "12,50", "reason": "other", **KEY},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "12,50 is not an amount here: type 12.50 for €12.50." in response.content.decode()
    assert not Refund.objects.filter(charge=american_euro_charge).exists()
    assert stripe_refund_amounts(american_euro_charge) == []


@pytest.mark.parametrize("typed", ["１２", "٣", "12,٥٠"])
def test_refund_typed_with_digits_other_than_0_to_9_is_refused_and_refunds_nothing(signed_in, german_charge, typed):
    client = signed_in(german_charge.organization)

    response = client.post(f"/charges/{german_charge.pk}/refund/", {"amount": typed, "reason": "other", **KEY})

    assert response.status_code == 200 and "digits 0-9" in response.content.decode()
    assert not Refund.objects.filter(charge=german_charge).exists()
    assert stripe_refund_amounts(german_charge) == []


def test_refund_dialog_is_prefilled_in_the_organizations_format_and_shows_what_it_will_send(signed_in, german_charge):
    client = signed_in(german_charge.organization)

    html = client.get(f"/charges/{german_charge.pk}/refund/").content.decode()

    assert 'value="150,00"' in html
    assert "Will refund <strong" in html and "150,00\xa0€</strong> of the 150,00\xa0€ refundable" in html


@pytest.mark.parametrize(
    ("fixture", "typed", "shown"),
    [
        ("german_charge", "12,50", 'Will refund <strong data-testid="refund-preview-amount">12,50\xa0€</strong>'),
        ("german_charge", "1.234,5", "The amount is more than what remains refundable on this charge."),
        ("german_charge", "12.50", "12.50 is not an amount here: type 12,50 for 12,50\xa0€."),
        ("german_charge", "١٢", "digits 0-9"),
        ("american_euro_charge", "12.50", 'Will refund <strong data-testid="refund-preview-amount">€12.50</strong>'),
        ("american_euro_charge", "12,50", "12,50 is not an amount here: type 12.50 for €12.50."),
        ("american_euro_charge", "", "Enter an amount."),
    ],
)
def test_refund_preview_reads_the_typed_amount_with_the_forms_own_parser(request, signed_in, fixture, typed, shown):
    charge = request.getfixturevalue(fixture)
    client = signed_in(charge.organization)

    response = client.get(f"/charges/{charge.pk}/refund/preview/", {"amount": typed})

    assert response.status_code == 200
    assert shown in response.content.decode()
    assert not Refund.objects.exists()


def test_refund_preview_of_another_organizations_charge_is_not_found(signed_in, make_org, german_charge):
    client = signed_in(make_org())
    assert client.get(f"/charges/{german_charge.pk}/refund/preview/", {"amount": "1"}).status_code == 404


def test_credit_note_amount_is_read_in_the_organizations_locale(signed_in, german_charge, american_euro_charge):
    german = signed_in(german_charge.organization)
    url = f"/invoices/{german_charge.invoice_id}/credit-notes/"
    response = german.post(url, {"credit_note-amount": "12,50", "credit_note-reason": "Goodwill"})
    assert response.status_code == 302
    assert CreditNote.objects.get(invoice=german_charge.invoice).amount == 1250

    american = signed_in(american_euro_charge.organization)
    url = f"/invoices/{american_euro_charge.invoice_id}/credit-notes/"
    response = american.post(url, {"credit_note-amount": "12,50", "credit_note-reason": "Goodwill"})
    assert response.status_code == 200
    assert "12,50 is not an amount here: type 12.50 for €12.50." in response.content.decode()
    assert not CreditNote.objects.filter(invoice=american_euro_charge.invoice).exists()
