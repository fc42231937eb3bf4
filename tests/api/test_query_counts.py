"""Query-count guards: reading a page or a detail costs a fixed number of queries, whatever it contains."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services


@pytest.fixture
def owner_api(api_client, owner):
    client = api_client(owner)
    client.get("/api/v1/invoices")  # the first request of a token also stamps its last use; keep it out
    return client


def queries_for(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def add_invoices(org, customers, count: int) -> None:
    for i in range(count):
        services.invoice_create(
            organization=org,
            customer=customers[i % len(customers)],
            currency="usd",
            payment_method="stripe_card",
            lines=[{"description": "Hot desk", "amount": 1000 + i}],
            actor=SYSTEM,
        )


def test_invoice_list_query_count_does_not_grow_with_page_size(org, owner_api, make_customer):
    customers = [make_customer(org)[0] for _ in range(3)]
    add_invoices(org, customers, 2)
    few = queries_for(owner_api, "/api/v1/invoices", {"payment_method": "stripe_card", "status": "awaiting_payment"})

    add_invoices(org, customers, 60)
    with CaptureQueriesContext(connection):
        response = owner_api.get("/api/v1/invoices", {"limit": 50})
    assert len(response.json()["items"]) == 50
    full = queries_for(owner_api, "/api/v1/invoices", {"payment_method": "stripe_card", "status": "awaiting_payment"})
    deep = queries_for(
        owner_api, "/api/v1/invoices", {"payment_method": "stripe_card", "cursor": response.json()["next_cursor"]}
    )

    assert full == few == deep
    assert full <= 2  # the token (with its membership) and the page (with its customers)


def test_invoice_detail_query_count_does_not_grow_with_charges_and_refunds(
    org, owner, owner_api, make_paid_charge, make_customer, make_invoice
):
    # One charge with one refund: every prefetch (lines, charges, refunds, credit notes) runs once.
    quiet = make_paid_charge(org)
    services.refund_create(actor=Actor.for_membership(owner), charge=quiet, amount=100)
    baseline = queries_for(owner_api, f"/api/v1/invoices/{quiet.invoice_id}")

    customer, method = make_customer(org)
    invoice = make_invoice(org, customer, total=30000)
    for _ in range(3):
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, amount=10000, actor=SYSTEM)
        for amount in (1000, 2000):
            services.refund_create(actor=Actor.for_membership(owner), charge=charge, amount=amount)
    services.credit_note_create(actor=Actor.for_membership(owner), invoice=invoice, amount=500, reason="Goodwill")

    detail = owner_api.get(f"/api/v1/invoices/{invoice.pk}").json()
    assert len(detail["charges"]) == 3
    assert sum(len(c["refunds"]) for c in detail["charges"]) == 6
    assert queries_for(owner_api, f"/api/v1/invoices/{invoice.pk}") == baseline
    assert baseline <= 6  # the token, the invoice (with customer), lines, charges, refunds, credit notes


def test_charge_detail_query_count_does_not_grow_with_refunds(org, owner, owner_api, make_paid_charge):
    quiet = make_paid_charge(org)
    baseline = queries_for(owner_api, f"/api/v1/charges/{quiet.pk}")

    busy = make_paid_charge(org)
    for amount in (1000, 2000, 3000, 500):
        services.refund_create(actor=Actor.for_membership(owner), charge=busy, amount=amount)

    assert len(owner_api.get(f"/api/v1/charges/{busy.pk}").json()["refunds"]) == 4
    assert queries_for(owner_api, f"/api/v1/charges/{busy.pk}") == baseline
    assert baseline <= 3  # the token, the charge (with invoice, method, organization), its refunds (with users)


def test_a_refund_over_the_api_costs_a_fixed_number_of_statements_whatever_the_charge_already_holds(
    org, owner, owner_api, make_paid_charge
):
    def statements_for_a_refund(charge) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = owner_api.post(
                f"/api/v1/charges/{charge.pk}/refunds", {"amount": 100}, content_type="application/json"
            )
        assert response.status_code == 201, response.content
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
        return len([q for q in captured.captured_queries if not q["sql"].startswith(control)])

    quiet = make_paid_charge(org)
    baseline = statements_for_a_refund(quiet)

    busy = make_paid_charge(org)
    for amount in (1000, 2000, 3000, 500):
        services.refund_create(actor=Actor.for_membership(owner), charge=busy, amount=amount)

    assert statements_for_a_refund(busy) == baseline
    # The token, the charge's row, the refund request itself (SQLite's 17, tests/integration/
    # test_refund_request_statements.py), and who asked it (the answer's created_by).
    assert baseline <= 1 + 1 + 17 + 1
