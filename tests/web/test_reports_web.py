"""Refunds report page and CSV downloads in the admin UI: figures are the refund rows' sums, CSV is the list."""

import csv
import io
import re

import pytest

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Refund
from flexbill.web.money import format_money

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _figures(html: str, section: str) -> dict[str, int]:
    """{key: minor units} of one section's figures table, read from the rendered page."""
    part = html.split(f'data-testid="{section}"', 1)[1].split("</section>", 1)[0]
    return {k: int(a) for k, a in re.findall(r'<tr data-key="([^"]+)">.*?data-amount="(\d+)"', part, re.S)}


def test_report_figures_equal_the_sums_of_refund_rows(owner_client, org, refunds_of_every_origin):
    response = owner_client.get("/reports/refunds/")

    assert response.status_code == 200
    html = response.content.decode()
    succeeded = Refund.objects.filter(organization=org, status="succeeded")
    month = succeeded.first().created_at.strftime("%Y-%m")
    assert _figures(html, "per-month") == {month: sum(r.amount for r in succeeded)} == {month: 6500}
    by_reason = {}
    for refund in succeeded:
        by_reason[refund.reason] = by_reason.get(refund.reason, 0) + refund.amount
    assert _figures(html, "per-reason") == by_reason
    assert _figures(html, "per-origin") == {"app": 3500, "stripe": 3000, "credit_note": 700}
    assert format_money(6500, "usd") in html and "Credit note" in html
    assert html.count('class="chart-bar"') >= 1 + 3 + 3
    assert "Nothing needs attention" in html


def test_pending_and_failed_refunds_are_listed_with_links_to_their_invoices(owner_client, org, owner, paid_charge):
    refund = services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=1200)
    Refund.objects.filter(pk=refund.pk).update(status="failed", failure_reason="Card expired")

    html = owner_client.get("/reports/refunds/").content.decode()

    row = html.split(f'data-refund-id="{refund.pk}"', 1)[1].split("</tr>", 1)[0]
    assert f'href="/invoices/{paid_charge.invoice_id}/"' in row
    assert "Card expired" in row and "Failed" in row and format_money(1200, "usd") in row


def test_date_range_leaves_out_refunds_outside_it(owner_client, owner, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100)

    outside = owner_client.get("/reports/refunds/", {"from": "2001-01-01", "to": "2001-12-31"})
    assert outside.status_code == 200
    assert _figures(outside.content.decode(), "per-origin") == {}
    assert b"No refunds in this period" in outside.content

    inside = owner_client.get("/reports/refunds/", {"from": "2001-01-01"})
    assert _figures(inside.content.decode(), "per-origin") == {"app": 100}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "Enter a date like 2025-01-31."),
        ({"to": "2025-02-30"}, "Enter a date like 2025-01-31."),
        ({"from": "0001-01-01"}, "Enter a date between 1970 and 9998."),
        ({"to": "9999-12-31"}, "Enter a date between 1970 and 9998."),
        ({"from": "2025-03-01", "to": "2025-01-01"}, "The start date must not be after the end date."),
        ({"from": "9" * 5000}, "Enter a date like 2025-01-31."),
    ],
)
def test_invalid_dates_get_a_readable_message_not_an_error_page(owner_client, params, message):
    response = owner_client.get("/reports/refunds/", params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert b'data-testid="per-month"' not in response.content


def test_invoice_csv_rows_equal_the_filtered_invoice_list(owner_client, org, make_customer, make_invoice, make_org):
    customer, _ = make_customer(org)
    for method in ["stripe_card", "bank_transfer", "stripe_card", "stripe_sepa"]:
        make_invoice(org, customer, payment_method=method)
    other_customer, _ = make_customer(make_org())
    make_invoice(other_customer.organization, other_customer, payment_method="stripe_card")
    params = {"payment_method": "stripe_card", "status": "awaiting_payment"}

    page = owner_client.get("/", params).content.decode()
    listed = re.findall(r'<a class="strong" href="/invoices/\d+/">([^<]+)</a>', page)
    assert 'href="/invoices.csv?payment_method=stripe_card&amp;status=awaiting_payment"' in page

    response = owner_client.get("/invoices.csv", params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert len(listed) == 2 and [r["number"] for r in rows] == listed
    assert {r["payment_method"] for r in rows} == {"stripe_card"}


def test_invoice_csv_ignores_unknown_filter_values_like_the_list(owner_client, org, make_customer, make_invoice):
    customer, _ = make_customer(org)
    make_invoice(org, customer)
    response = owner_client.get("/invoices.csv", {"status": "nonsense", "cursor": "!!"})
    assert response.status_code == 200 and len(_rows(response)) == 1


def test_refunds_csv_holds_the_organizations_refunds_only(owner_client, org, owner, paid_charge, make_org, make_member):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=300)
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=200)
    response = owner_client.get("/reports/refunds.csv")
    rows = _rows(response)
    assert [int(r["amount"]) for r in rows] == [200, 300]
    assert {r["invoice"] for r in rows} == {paid_charge.invoice.number}
    assert _rows(owner_client.get("/reports/refunds.csv", {"origin": "stripe"})) == []


def test_refunds_csv_keeps_to_the_reports_date_range(owner_client, owner, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=300)
    today = paid_charge.refunds.get().created_at.date().isoformat()
    assert [int(r["amount"]) for r in _rows(owner_client.get("/reports/refunds.csv", {"from": today}))] == [300]
    assert _rows(owner_client.get("/reports/refunds.csv", {"from": "2001-01-01", "to": "2001-12-31"})) == []
    page = owner_client.get("/reports/refunds/", {"from": "2001-01-01", "to": "2001-12-31"}).content.decode()
    assert "refunds.csv?from=2001-01-01&amp;to=2001-12-31" in page


def test_every_role_may_read_the_report_and_sign_in_is_required(client, org, make_member):
    assert client.get("/reports/refunds/").status_code == 302
    assert client.get("/invoices.csv").status_code == 302
    client.force_login(make_member(org, "member").user)
    response = client.get("/reports/refunds/")
    assert response.status_code == 200 and b'href="/reports/refunds/"' in response.content
    assert b"Webhooks</a>" not in response.content


def test_csv_lines_are_built_by_the_shared_export_helper(owner_client, org):
    # a customer named like a formula is written as text, as in the API's export
    customer = services.customer_create(organization=org, name="=HYPERLINK()", email="x@example.com", actor=SYSTEM)
    services.invoice_create(
        organization=org,
        customer=customer,
        currency="usd",
        payment_method="cash",
        lines=[{"description": "Desk", "amount": 100}],
        actor=SYSTEM,
    )
    assert _rows(owner_client.get("/invoices.csv"))[0]["customer"] == "'=HYPERLINK()"
