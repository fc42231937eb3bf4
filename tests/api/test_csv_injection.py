"""CSV exports through the API and the UI's export links never hand a spreadsheet a formula: every text column
people can type into (customer name, invoice number, refund note, the refunding user's e-mail) is written as text
when it starts, or starts after blanks, with a formula sign, a tab or a line break, in ASCII or full-width form."""

import csv
import io
import re

import pytest

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Customer, Invoice, Refund
from spreadsheet_formulas import DANGEROUS_TEXTS, opens_as_formula

TEXT_COLUMNS = {"invoices.csv": ["number", "customer"], "refunds.csv": ["invoice", "note", "created_by"]}


@pytest.fixture
def dangerous_refunds(org, make_member):
    """One customer, invoice and refund per dangerous text, the text typed in each of them; the refunding user's
    e-mail starts with a formula sign too (=, + and - are valid in an e-mail address)."""
    refunder = make_member(org, "owner")
    refunder.user.email = "=1+1@example.com"
    refunder.user.save()
    for text in DANGEROUS_TEXTS.values():
        customer = services.customer_create(organization=org, name=text, email="ada@example.com", actor=SYSTEM)
        method = services.payment_method_add(customer=customer, stripe_payment_method="pm_card_visa", actor=SYSTEM)
        invoice = services.invoice_create(
            organization=org,
            customer=customer,
            currency="usd",
            payment_method="stripe_card",
            lines=[{"description": "Dedicated desk", "amount": 5000}],
            actor=SYSTEM,
        )
        # flexbill now refuses control characters in new invoice numbers; numbers given before that, or imported,
        # may still hold them, so the stored number is written as it would stand in such a row.
        Invoice.objects.filter(pk=invoice.pk).update(number=text)
        invoice.refresh_from_db()
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=SYSTEM)
        services.refund_create(actor=Actor.for_membership(refunder), charge=charge, amount=1000, note=text)
    return org


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _api_exports(owner, api_client):
    client = api_client(owner)
    return {name: _rows(client.get(f"/api/v1/exports/{name}")) for name in TEXT_COLUMNS}


def _ui_exports(owner, client):
    """Follows the export links the invoice list and the refunds report show."""
    client.force_login(owner.user)
    links = {}
    for page, name in (("/", "invoices.csv"), ("/reports/refunds/", "refunds.csv")):
        html = client.get(page).content.decode()
        links[name] = re.search(rf'href="([^"]*{re.escape(name)}[^"]*)"', html).group(1).replace("&amp;", "&")
    return {name: _rows(client.get(href)) for name, href in links.items()}


def test_no_exported_text_cell_opens_as_a_formula_and_none_is_altered_beyond_the_apostrophe(
    dangerous_refunds, owner, api_client, client
):
    # Built once (one Stripe charge and refund per text) and read through both surfaces.
    for surface, exports in (("api", _api_exports(owner, api_client)), ("ui", _ui_exports(owner, client))):
        _assert_exports_hold_no_formula(surface, exports)


def _assert_exports_hold_no_formula(surface: str, exports: dict[str, list[dict]]) -> None:
    stored = {
        "number": set(Invoice.objects.values_list("number", flat=True)),
        "invoice": set(Invoice.objects.values_list("number", flat=True)),
        "customer": set(Customer.objects.values_list("name", flat=True)),
        "note": set(Refund.objects.values_list("note", flat=True)),
        "created_by": {"=1+1@example.com"},
    }
    for name, columns in TEXT_COLUMNS.items():
        assert len(exports[name]) == len(DANGEROUS_TEXTS), (surface, name)
        for row in exports[name]:
            for column in columns:
                cell = row[column]
                where = (surface, name, column, cell)
                assert not opens_as_formula(cell), where
                assert cell in stored[column] or (cell[:1] == "'" and cell[1:] in stored[column]), where
    # Invoice numbers are stored exactly as typed, so every dangerous start reaches the export unchanged.
    expected_numbers = sorted("'" + text for text in DANGEROUS_TEXTS.values())
    assert sorted(row["number"] for row in exports["invoices.csv"]) == expected_numbers
    assert sorted(row["invoice"] for row in exports["refunds.csv"]) == expected_numbers
