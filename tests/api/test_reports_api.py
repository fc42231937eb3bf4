"""Refunds report and CSV exports: figures are the sums of refund rows; CSV rows are the filtered list."""

import csv
import io

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import CreditNote, Refund


def _content(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_refunds_report_figures_equal_the_sums_of_refund_rows(org, owner, api_client, refunds_of_every_origin):
    body = api_client(owner).get("/api/v1/reports/refunds").json()

    succeeded = Refund.objects.filter(organization=org, status="succeeded")
    assert sum(r["amount"] for r in body["per_month"]) == sum(r.amount for r in succeeded) == 6500
    assert {r["key"]: r["amount"] for r in body["per_reason"]} == {
        "duplicate": 2500,
        "requested_by_customer": 1000,
        "other": 3000,
    }
    assert {r["key"]: r["amount"] for r in body["per_origin"]} == {"app": 3500, "stripe": 3000, "credit_note": 700}
    assert CreditNote.objects.get(organization=org).amount == 700


def test_refunds_report_date_range_excludes_other_days(org, owner, api_client, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100)
    body = api_client(owner).get("/api/v1/reports/refunds?from=2001-01-01&to=2001-12-31").json()
    assert body["per_month"] == [] and body["per_origin"] == []
    bad = api_client(owner).get("/api/v1/reports/refunds?from=2002-01-01&to=2001-01-01")
    assert bad.status_code == 400 and bad.json()["code"] == "date_range_invalid"


def test_invoice_csv_rows_equal_the_filtered_invoice_list(org, owner, api_client, make_customer, make_invoice):
    customer, _ = make_customer(org)
    for method in ["stripe_card", "bank_transfer", "stripe_card", "stripe_sepa"]:
        make_invoice(org, customer, payment_method=method)
    client = api_client(owner)

    listed = client.get("/api/v1/invoices?payment_method=stripe_card").json()["items"]
    rows = list(
        csv.DictReader(io.StringIO(_content(client.get("/api/v1/exports/invoices.csv?payment_method=stripe_card"))))
    )

    assert [r["number"] for r in rows] == [i["number"] for i in listed]
    assert len(rows) == 2 and all(r["payment_method"] == "stripe_card" for r in rows)


def test_csv_export_neutralises_spreadsheet_formulas(org, owner, api_client, make_invoice):
    customer = services.customer_create(organization=org, name='=HYPERLINK("x")', email="f@example.com", actor=SYSTEM)
    make_invoice(org, customer)
    text = _content(api_client(owner).get("/api/v1/exports/invoices.csv"))
    assert "'=HYPERLINK" in text


def test_refund_csv_lists_each_refund_once(org, owner, api_client, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100)
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=200)
    rows = list(csv.DictReader(io.StringIO(_content(api_client(owner).get("/api/v1/exports/refunds.csv")))))
    assert sorted(int(r["amount"]) for r in rows) == [100, 200]
    assert {r["invoice"] for r in rows} == {paid_charge.invoice.number}


def test_refund_csv_keeps_to_the_date_range(org, owner, api_client, paid_charge):
    services.refund_create(actor=Actor.for_membership(owner), charge=paid_charge, amount=100)
    client = api_client(owner)
    today = Refund.objects.get(charge=paid_charge).created_at.date().isoformat()

    inside = list(
        csv.DictReader(io.StringIO(_content(client.get(f"/api/v1/exports/refunds.csv?from={today}&to={today}"))))
    )
    before = list(csv.DictReader(io.StringIO(_content(client.get("/api/v1/exports/refunds.csv?to=2001-01-01")))))

    assert [int(r["amount"]) for r in inside] == [100]
    assert before == []
