"""Bookkeeping writes made at the same time: credit notes recording money returned never together exceed what
was paid, and invoices created at once get distinct numbers, skipping numbers given by hand. Real threads, real
database transactions."""

import pytest

from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import CreditNote, Invoice
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.errors import Conflict
from threads import THREADS, run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_credit_notes_never_record_more_returned_than_was_paid(org, owner, make_customer, make_invoice):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=20000)
    services.charge_record(invoice=invoice, source="manual", amount=5000, reference="", actor=SYSTEM)

    results = run_together(
        lambda: services.credit_note_create(
            actor=Actor.for_membership(owner),
            invoice=invoice,
            amount=2000,
            reason="Returned",
            refund_method="bank_transfer",
        )
    )

    notes = [r for r in results if isinstance(r, CreditNote)]
    refused = [r for r in results if not isinstance(r, CreditNote)]
    assert len(notes) == 2
    assert all(isinstance(r, RefundRefused) and r.refusal is Refusal.REFUNDS_EXCEED_PAID for r in refused), refused
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.amount_refunded) == (5000, 4000)
    assert CreditNote.objects.filter(invoice=invoice).count() == 2


def create_invoice(org, customer, number=None):
    return services.invoice_create(
        organization=org,
        customer=customer,
        currency="usd",
        payment_method="cash",
        lines=[{"description": "Desk", "amount": 100}],
        number=number,
        actor=SYSTEM,
    )


def test_invoices_created_at_once_get_distinct_consecutive_numbers(org, make_customer):
    customer, _ = make_customer(org)
    first = create_invoice(org, customer)
    start = int(first.number.removeprefix("INV-"))

    results = run_together(lambda: create_invoice(org, customer))

    assert all(isinstance(r, Invoice) for r in results), results
    assert sorted(r.number for r in results) == [f"INV-{start + i:06d}" for i in range(1, THREADS + 1)]


def test_automatic_numbers_never_fail_nor_collide_with_numbers_given_by_hand_at_the_same_time(org, make_customer):
    customer, _ = make_customer(org)
    start = int(create_invoice(org, customer).number.removeprefix("INV-"))
    # Half the threads give by hand the very numbers automatic numbering would take next: whichever comes first
    # has it, and a number given by hand that is already taken is a 409, never a duplicate.
    numbers = [f"INV-{start + i:06d}" for i in range(1, THREADS // 2 + 1)] + [None] * (THREADS // 2)
    slots = iter(numbers)

    def attempt():
        number = next(slots)
        try:
            return number, create_invoice(org, customer, number)
        except Conflict as exc:
            return number, exc

    results = run_together(attempt)

    automatic = [r for n, r in results if n is None]
    assert all(isinstance(r, Invoice) for r in automatic), automatic
    by_hand = [r for n, r in results if n is not None]
    assert all(isinstance(r, Invoice) or r.code == "number_taken" for r in by_hand), by_hand
    stored = list(Invoice.objects.filter(organization=org).values_list("number", flat=True))
    created = 1 + sum(isinstance(r, Invoice) for _, r in results)
    assert len(stored) == len(set(stored)) == created


def test_the_same_number_given_by_hand_at_once_is_created_once_and_refused_with_a_409_otherwise(org, make_customer):
    customer, _ = make_customer(org)

    results = run_together(lambda: create_invoice(org, customer, "INV-777"))

    assert sum(isinstance(r, Invoice) for r in results) == 1
    refused = [r for r in results if not isinstance(r, Invoice)]
    assert all(isinstance(r, Conflict) and r.code == "number_taken" for r in refused), refused
    assert Invoice.objects.filter(organization=org, number="INV-777").count() == 1
