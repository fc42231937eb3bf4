"""People read payment methods as "Visa ···· 4242" and the audit trail as sentences, on the invoice page, in the
refund dialog, in the CSV exports and in the API (which keeps Stripe's codes and the audit action codes too)."""

import csv
import io
import re

import pytest
import stripe

from flexbill.audit.services import SYSTEM
from flexbill.billing import services
from flexbill.billing.models import Charge
from flexbill.stripe_gateway.types import PaymentMethodInfo, PaymentResult


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


@pytest.fixture
def sepa_charge(org, make_customer, make_invoice, local_stripe):
    client = stripe.StripeClient(org.stripe_secret_key, base_addresses={"api": local_stripe.url})
    method = client.v1.payment_methods.create(
        params={
            "type": "sepa_debit",
            "sepa_debit": {"iban": "DE89370400440532013000"},
            "billing_details": {"name": "Ada Lovelace", "email": "ada@example.com"},
        }
    )
    customer, saved = make_customer(org, method.id)
    invoice = make_invoice(org, customer, total=8000, payment_method="stripe_sepa")
    return services.charge_create_stripe(invoice=invoice, payment_method_id=saved.pk, actor=SYSTEM)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_card_charge_keeps_the_brand_and_last_four_it_was_paid_with(paid_charge):
    charge = Charge.objects.get(pk=paid_charge.pk)
    assert (charge.payment_method_type, charge.payment_method_brand, charge.payment_method_last4) == (
        "card",
        "visa",
        "4242",
    )
    assert charge.payment_method_label == "Visa ···· 4242"


def test_a_sepa_charge_is_named_by_its_scheme_and_the_ibans_last_four(sepa_charge):
    assert Charge.objects.get(pk=sepa_charge.pk).payment_method_label == "SEPA Direct Debit ···· 3000"


def test_the_label_stays_when_the_saved_payment_method_is_gone(paid_charge):
    paid_charge.payment_method.delete()
    assert Charge.objects.get(pk=paid_charge.pk).payment_method_label == "Visa ···· 4242"


def test_what_stripe_reports_a_payment_was_made_with_is_stored_on_the_charge(
    org, make_customer, make_invoice, make_pending_charge
):
    customer, _ = make_customer(org)
    charge = make_pending_charge(make_invoice(org, customer))
    assert charge.payment_method_label == "US bank account"
    bank = PaymentMethodInfo(id="", type="us_bank_account", bank_name="Chase", last4="6789")
    result = PaymentResult(status="success", payment_intent_id="pi_1", charge_id="py_1", paid_with=bank)

    services.charge_update_payment(charge=charge, result=result, actor=SYSTEM)

    assert Charge.objects.get(pk=charge.pk).payment_method_label == "US bank account (Chase) ···· 6789"


def test_the_invoice_page_and_the_refund_dialog_name_the_payment_method_not_stripes_code(owner_client, sepa_charge):
    page = _text(owner_client.get(f"/invoices/{sepa_charge.invoice_id}/").content.decode())
    assert "SEPA Direct Debit ···· 3000" in page and "sepa_debit" not in page

    dialog = _text(owner_client.get(f"/charges/{sepa_charge.pk}/refund/").content.decode())
    assert "made with SEPA Direct Debit ···· 3000" in dialog

    details = _text(owner_client.get(f"/charges/{sepa_charge.pk}/details/").content.decode())
    assert "SEPA Direct Debit ···· 3000" in details


def test_the_refunds_csv_keeps_the_code_and_adds_the_label(owner_client, owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=300)
    response = owner_client.get("/reports/refunds.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["payment_method_type"], r["payment_method"]) for r in rows] == [("card", "Visa ···· 4242")]


def test_the_invoices_csv_keeps_the_code_and_adds_the_label(owner_client, paid_charge):
    response = owner_client.get("/invoices.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["payment_method"], r["payment_method_label"]) for r in rows] == [("stripe_card", "Stripe card")]


def test_the_api_keeps_stripes_type_code_and_adds_the_label(api_client, owner, sepa_charge):
    body = api_client(owner).get(f"/api/v1/charges/{sepa_charge.pk}").json()
    assert (body["payment_method_type"], body["payment_method_label"]) == ("sepa_debit", "SEPA Direct Debit ···· 3000")


def test_the_invoice_pages_audit_trail_reads_as_sentences(owner_client, owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=5000)
    number = paid_charge.invoice.number

    page = _text(owner_client.get(f"/invoices/{paid_charge.invoice_id}/").content.decode())

    assert f"Refunded $50.00 of {number} — requested by customer" in page
    assert f"Charged $100.00 with Visa ···· 4242 for {number} through Stripe" in page
    assert "refund.requested" not in page  # the code is not what people read


def test_the_audit_trail_writes_money_in_the_organizations_locale(make_org, make_member, make_paid_charge, client):
    german = make_org(currency="eur", locale="de_DE")
    owner = make_member(german, "owner")
    charge = make_paid_charge(german, amount=12345)
    services.refund_create(membership=owner, charge=charge, amount=5000, reason="duplicate")
    client.force_login(owner.user)

    page = _text(client.get(f"/invoices/{charge.invoice_id}/").content.decode())

    assert f"Refunded 50,00 € of {charge.invoice.number} — duplicate payment" in page  # _text reads NBSP as a space


def test_the_api_keeps_the_audit_codes_and_adds_the_sentence_as_summary(api_client, owner, paid_charge):
    services.charge_mark_refunded(membership=owner, charge=paid_charge, via="status")

    body = api_client(owner).get(f"/api/v1/audit-events?invoice={paid_charge.invoice_id}").json()

    marked = next(e for e in body["items"] if e["action"] == "charge.marked_refunded")
    assert marked["object"] == f"charge:{paid_charge.pk}" and marked["after"]["status"] == "refunded"
    assert marked["summary"] == (
        f"Marked charge {paid_charge.stripe_charge_id} of {paid_charge.invoice.number} refunded without moving money"
    )
    assert all(e["summary"] and e["summary"] != e["action"] for e in body["items"])


def test_a_page_of_audit_sentences_reads_its_names_in_a_fixed_number_of_queries(
    api_client, owner, make_paid_charge, org, django_assert_max_num_queries
):
    for _ in range(3):
        services.refund_create(membership=owner, charge=make_paid_charge(org), amount=100)
    client = api_client(owner)
    client.get("/api/v1/audit-events")  # warm the token and caches
    with django_assert_max_num_queries(12):
        body = client.get("/api/v1/audit-events?limit=200").json()
    assert len(body["items"]) > 20


def test_a_saved_payment_method_is_answered_with_its_label(api_client, owner, org):
    client = api_client(owner)
    customer = client.post("/api/v1/customers", {"name": "Ada", "email": "ada@example.com"}, "application/json")
    body = client.post(
        f"/api/v1/customers/{customer.json()['id']}/payment-methods",
        {"stripe_payment_method": "pm_card_visa"},
        "application/json",
    ).json()
    assert (body["type"], body["brand"], body["label"]) == ("card", "visa", "Visa ···· 4242")


def test_a_bank_name_from_stripe_is_shown_as_text_never_as_markup(
    owner_client, org, make_customer, make_invoice, make_pending_charge
):
    customer, _ = make_customer(org)
    charge = make_pending_charge(make_invoice(org, customer))
    Charge.objects.filter(pk=charge.pk).update(
        payment_method_bank="<img src=x onerror=alert(1)>", payment_method_last4="6789"
    )

    html = owner_client.get(f"/invoices/{charge.invoice_id}/").content.decode()

    assert "<img src=x" not in html
    assert "US bank account (&lt;img src=x onerror=alert(1)&gt;) ···· 6789" in html
