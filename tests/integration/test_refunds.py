"""Issuing refunds through the services, against the database and the local Stripe (docs/rules.md, rules 1-8, 10
and 12)."""

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.billing import services
from flexbill.billing.models import Charge, CreditNote, Invoice, Refund
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.errors import PermissionDenied, StripeFailed
from flexbill.stripe_gateway.client import REFUND_REFERENCE_KEY, gateway_for

UNREACHABLE_STRIPE = "http://127.0.0.1:9"  # nothing listens there: connection refused, the request never leaves


def stripe_refunds(charge) -> dict[str, int]:
    """What the local Stripe holds for this charge: {stripe refund id: amount}."""
    return {r.id: r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)}


def flexbill_refunds(charge) -> dict[str, int]:
    return {r.stripe_refund_id: r.amount for r in Refund.objects.filter(charge=charge)}


def reload(obj):
    return type(obj).objects.get(pk=obj.pk)


def audit_actions(obj) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.fixture
def slow_stripe(settings):
    """slow_stripe() points flexbill at a Stripe that accepts connections but answers later than flexbill waits:
    the one outage the local Stripe cannot produce (the request may or may not have been applied)."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            time.sleep(1.5)
            self.send_response(500)
            self.end_headers()

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def go_slow():
        settings.FLEXBILL_STRIPE_TIMEOUT = 0.3
        settings.FLEXBILL_STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"

    yield go_slow
    server.shutdown()
    server.server_close()


@pytest.fixture
def sepa_charge(org, make_customer, make_invoice, local_stripe):
    """A successful SEPA Direct Debit charge through the local Stripe."""
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
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=saved.pk, actor=services_actor())
    charge = reload(charge)
    assert charge.status == "success"
    assert charge.payment_method_type == "sepa_debit"
    return charge


def services_actor():
    from flexbill.audit.services import SYSTEM

    return SYSTEM


# Full and partial refunds ------------------------------------------------------------------------------------
def test_full_refund_makes_charge_and_invoice_refunded(owner, paid_charge):
    refund = services.refund_create(membership=owner, charge=paid_charge)

    assert refund.status == "succeeded"
    assert refund.amount == 10000
    assert refund.stripe_refund_id.startswith("re_")
    charge = reload(paid_charge)
    assert charge.status == "refunded"
    assert charge.amount_refunded == 10000
    assert charge.refundable_amount == 0
    assert reload(charge.invoice).status == "refunded"
    assert reload(charge.invoice).amount_refunded == 10000


def test_partial_refund_leaves_invoice_status(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=4000)

    charge = reload(paid_charge)
    assert charge.status == "success"
    assert charge.amount_refunded == 4000
    assert charge.refundable_amount == 6000
    invoice = reload(charge.invoice)
    assert invoice.status == "paid"
    assert invoice.amount_refunded == 4000


def test_second_partial_refund_completing_the_amount_makes_the_charge_refunded(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=4000)
    services.refund_create(membership=owner, charge=reload(paid_charge), amount=6000)

    charge = reload(paid_charge)
    assert charge.status == "refunded"
    assert charge.amount_refunded == 10000
    assert reload(charge.invoice).status == "refunded"


def test_refund_amount_defaults_to_what_remains_refundable(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=2500)
    rest = services.refund_create(membership=owner, charge=reload(paid_charge))
    assert rest.amount == 7500


def test_refund_beyond_what_remains_is_refused_and_stripe_is_not_called(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=6000)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(paid_charge), amount=4001)
    assert refused.value.refusal is Refusal.AMOUNT_TOO_LARGE
    assert sorted(stripe_refunds(paid_charge).values()) == [6000]
    assert reload(paid_charge).amount_reserved == 6000


def test_refund_of_a_refunded_charge_is_refused_as_already_refunded(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(paid_charge), amount=1)
    assert refused.value.refusal is Refusal.ALREADY_REFUNDED
    assert len(stripe_refunds(paid_charge)) == 1


def test_stripe_holds_exactly_the_refunds_flexbill_recorded(owner, paid_charge):
    for amount in (1000, 2500, 3000):
        services.refund_create(membership=owner, charge=reload(paid_charge), amount=amount)

    assert stripe_refunds(paid_charge) == flexbill_refunds(paid_charge)
    assert sorted(flexbill_refunds(paid_charge).values()) == [1000, 2500, 3000]


def test_refund_carries_its_flexbill_reference_to_stripe(owner, paid_charge):
    refund = services.refund_create(membership=owner, charge=paid_charge, amount=100)
    [info] = gateway_for(paid_charge.organization).refunds_for_charge(paid_charge.stripe_charge_id)
    assert info.metadata[REFUND_REFERENCE_KEY] == str(refund.reference)


@pytest.mark.parametrize(
    ("source", "refusal"),
    [("xero", Refusal.NOT_STRIPE), ("quickbooks", Refusal.NOT_STRIPE), ("manual", Refusal.NOT_STRIPE)],
)
def test_charges_recorded_from_other_systems_are_refused(org, owner, make_customer, make_invoice, source, refusal):
    customer, _ = make_customer(org)
    invoice = make_invoice(org, customer, total=5000)
    charge = services.charge_record(
        invoice=invoice, source=source, amount=5000, reference="INV-1", actor=services_actor()
    )
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=charge)
    assert refused.value.refusal is refusal
    assert not Refund.objects.filter(charge=charge).exists()


def test_failed_charge_is_refused_as_not_succeeded(org, owner, make_customer, make_invoice):
    customer, method = make_customer(org, "pm_card_chargeCustomerFail")
    invoice = make_invoice(org, customer, total=5000)
    charge = services.charge_create_stripe(invoice=invoice, payment_method_id=method.pk, actor=services_actor())
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(charge))
    assert refused.value.refusal is Refusal.NOT_SUCCEEDED


# Permissions (docs/rules.md, rule 1) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["owner", "admin", "clerk"])
def test_owners_admins_and_roles_with_refund_permission_may_refund(org, make_member, paid_charge, role):
    member = make_member(org, role)
    refund = services.refund_create(membership=member, charge=paid_charge, amount=500)
    assert refund.status == "succeeded"
    assert refund.created_by == member.user
    assert stripe_refunds(paid_charge) == {refund.stripe_refund_id: 500}


@pytest.mark.parametrize("role", ["member", "custom"])
def test_members_and_roles_without_refund_permission_are_refused(org, make_member, paid_charge, role):
    member = make_member(org, role)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=member, charge=paid_charge, amount=500)
    assert refused.value.refusal is Refusal.PERMISSION_DENIED
    assert refused.value.status == 403
    assert stripe_refunds(paid_charge) == {}
    assert not Refund.objects.filter(charge=paid_charge).exists()


# Stripe failures (docs/rules.md, rule 5) ------------------------------------------------------------------------------
def test_stripe_unreachable_leaves_everything_as_it_was(settings, owner, paid_charge):
    invoice_before = reload(paid_charge.invoice)
    settings.FLEXBILL_STRIPE_API_BASE = UNREACHABLE_STRIPE

    with pytest.raises(StripeFailed) as failed:
        services.refund_create(membership=owner, charge=paid_charge, amount=3000)

    assert failed.value.status == 502
    assert "Nothing was changed" in failed.value.detail
    assert not Refund.objects.filter(charge=paid_charge).exists()
    charge = reload(paid_charge)
    assert (charge.status, charge.amount_refunded, charge.amount_reserved) == ("success", 0, 0)
    invoice = reload(invoice_before)
    assert (invoice.status, invoice.amount_refunded) == (invoice_before.status, invoice_before.amount_refunded)
    assert "refund.rejected" in AuditEvent.objects.filter(object_type="refund").values_list("action", flat=True)


def test_stripe_timeout_leaves_the_refund_requested_with_its_amount_reserved(slow_stripe, owner, paid_charge):
    slow_stripe()
    with pytest.raises(StripeFailed) as failed:
        services.refund_create(membership=owner, charge=paid_charge, amount=3000)

    assert failed.value.code == "stripe_unconfirmed"
    refund = Refund.objects.get(charge=paid_charge)
    assert refund.status == "requested"
    assert refund.stripe_refund_id is None
    charge = reload(paid_charge)
    assert charge.amount_reserved == 3000
    assert charge.amount_refunded == 0
    assert charge.refundable_amount == 7000
    assert charge.status == "success"
    assert audit_actions(refund) == ["refund.requested", "refund.unconfirmed"]
    unconfirmed = AuditEvent.objects.get(object_type="refund", object_id=str(refund.pk), action="refund.unconfirmed")
    assert unconfirmed.invoice_id == paid_charge.invoice_id
    assert failed.value.detail == (
        f"{unconfirmed.message} The refund is recorded as requested and will be settled with Stripe "
        "automatically; do not send it again."
    )


def test_refund_reserved_by_a_timeout_counts_against_the_next_refund(slow_stripe, owner, paid_charge):
    slow_stripe()
    with pytest.raises(StripeFailed):
        services.refund_create(membership=owner, charge=paid_charge, amount=3000)
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(paid_charge), amount=7001)
    assert refused.value.refusal is Refusal.AMOUNT_TOO_LARGE


# ACH / SEPA age limit (docs/rules.md, rule 4) -------------------------------------------------------------------------
def test_sepa_charge_older_than_180_days_is_refused_before_stripe_is_called(owner, sepa_charge):
    Charge.objects.filter(pk=sepa_charge.pk).update(charged_at=timezone.now() - timedelta(days=181))

    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(sepa_charge))

    assert refused.value.refusal is Refusal.TOO_OLD_FOR_REFUND
    assert stripe_refunds(sepa_charge) == {}
    assert not Refund.objects.filter(charge=sepa_charge).exists()
    assert reload(sepa_charge).status == "success"


def test_sepa_charge_within_180_days_is_refunded(owner, sepa_charge):
    refund = services.refund_create(
        membership=owner, charge=sepa_charge, now=sepa_charge.charged_at + timedelta(days=179)
    )
    assert refund.status == "succeeded"
    assert stripe_refunds(sepa_charge) == {refund.stripe_refund_id: 8000}


def test_ach_charge_older_than_180_days_is_refused_before_stripe_is_called(owner, paid_charge):
    # The local Stripe has no ACH: the charge is a card charge flexbill records as us_bank_account.
    Charge.objects.filter(pk=paid_charge.pk).update(payment_method_type="us_bank_account")
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(
            membership=owner, charge=reload(paid_charge), now=paid_charge.charged_at + timedelta(days=181)
        )
    assert refused.value.refusal is Refusal.TOO_OLD_FOR_REFUND
    assert stripe_refunds(paid_charge) == {}


def test_card_charge_older_than_180_days_is_still_refunded(owner, paid_charge):
    Charge.objects.filter(pk=paid_charge.pk).update(charged_at=timezone.now() - timedelta(days=400))
    refund = services.refund_create(membership=owner, charge=reload(paid_charge), amount=100)
    assert refund.status == "succeeded"


# Credit notes (docs/rules.md, rule 10) --------------------------------------------------------------------------------
def test_refund_with_credit_note_issues_a_credit_note_for_the_refund_amount(owner, paid_charge):
    refund = services.refund_create(membership=owner, charge=paid_charge, amount=2500, credit_note=True)

    note = CreditNote.objects.get(refund=refund)
    assert note.amount == 2500
    assert note.invoice_id == paid_charge.invoice_id
    assert note.number.startswith("CN-")
    # The refund already counts as refunded through Stripe: the credit note must not count it twice.
    assert reload(paid_charge.invoice).amount_refunded == 2500


def test_credit_notes_for_refunds_never_exceed_the_invoice_total(owner, paid_charge):
    services.credit_note_create(membership=owner, invoice=paid_charge.invoice, amount=9000, reason="Goodwill")

    refund = services.refund_create(membership=owner, charge=paid_charge, amount=2500, credit_note=True)
    again = services.refund_create(membership=owner, charge=paid_charge, amount=2500, credit_note=True)

    assert CreditNote.objects.get(refund=refund).amount == 1000  # what was left of the 10000 invoice
    assert not CreditNote.objects.filter(refund=again).exists()
    assert sum(n.amount for n in CreditNote.objects.filter(invoice_id=paid_charge.invoice_id)) == 10000


def test_refund_without_credit_note_issues_none(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=2500)
    assert not CreditNote.objects.filter(invoice_id=paid_charge.invoice_id).exists()


def test_credit_note_recording_money_returned_outside_stripe_counts_as_refunded(owner, paid_charge):
    note = services.credit_note_create(
        membership=owner,
        invoice=paid_charge.invoice,
        amount=1500,
        reason="Refunded by bank transfer",
        refund_method="bank_transfer",
        refund_reference="TRX-9",
    )
    assert note.amount == 1500
    assert reload(paid_charge.invoice).amount_refunded == 1500
    assert stripe_refunds(paid_charge) == {}


# Marking refunded without moving money (docs/rules.md, rule 8) --------------------------------------------------------
@pytest.mark.parametrize("via", ["status", "delete"])
def test_marking_a_charge_refunded_moves_no_money_and_is_audited_as_such(owner, paid_charge, via):
    services.charge_mark_refunded(membership=owner, charge=paid_charge, via=via)

    charge = reload(paid_charge)
    assert charge.status == "refunded"
    assert charge.marked_refunded_at is not None
    assert charge.amount_refunded == 0
    assert reload(charge.invoice).status == "refunded"
    assert stripe_refunds(paid_charge) == {}
    assert not Refund.objects.filter(charge=paid_charge).exists()
    event = AuditEvent.objects.get(object_type="charge", object_id=str(charge.pk), action="charge.marked_refunded")
    assert "no money moved" in event.message
    assert event.actor_user == owner.user


@pytest.mark.parametrize("via", ["status", "delete"])
def test_marking_a_refunded_charge_refunded_is_refused_as_already_refunded(owner, paid_charge, via):
    services.refund_create(membership=owner, charge=paid_charge)
    with pytest.raises(RefundRefused) as refused:
        services.charge_mark_refunded(membership=owner, charge=reload(paid_charge), via=via)
    assert refused.value.refusal is Refusal.ALREADY_REFUNDED
    assert reload(paid_charge).marked_refunded_at is None


@pytest.mark.parametrize("via", ["status", "delete"])
def test_marking_refunded_needs_its_permission(org, make_member, paid_charge, via):
    with pytest.raises(PermissionDenied):
        services.charge_mark_refunded(membership=make_member(org, "member"), charge=paid_charge, via=via)
    assert reload(paid_charge).status == "success"


def test_refund_of_a_charge_marked_refunded_is_refused(owner, paid_charge):
    services.charge_mark_refunded(membership=owner, charge=paid_charge, via="status")
    with pytest.raises(RefundRefused) as refused:
        services.refund_create(membership=owner, charge=reload(paid_charge))
    assert refused.value.refusal is Refusal.ALREADY_REFUNDED
    assert stripe_refunds(paid_charge) == {}


# Audit (docs/rules.md, rule 21) ---------------------------------------------------------------------------------------
def test_refund_and_the_status_changes_it_causes_are_audited(owner, paid_charge):
    refund = services.refund_create(membership=owner, charge=paid_charge)

    assert audit_actions(refund) == ["refund.requested", "refund.succeeded"]
    requested = AuditEvent.objects.get(object_type="refund", object_id=str(refund.pk), action="refund.requested")
    assert requested.actor_user == owner.user
    assert requested.after["amount"] == 10000
    charge_events = AuditEvent.objects.filter(
        object_type="charge", object_id=str(paid_charge.pk), action="charge.updated"
    ).order_by("id")
    assert charge_events.last().before["status"] == "success"
    assert charge_events.last().after["status"] == "refunded"
    assert charge_events.last().after["amount_refunded"] == 10000
    invoice_event = (
        AuditEvent.objects.filter(object_type="invoice", object_id=str(paid_charge.invoice_id)).order_by("id").last()
    )
    assert invoice_event.before["status"] == "paid"
    assert invoice_event.after["status"] == "refunded"


def test_partial_refund_audits_the_amount_refunded_on_the_charge(owner, paid_charge):
    services.refund_create(membership=owner, charge=paid_charge, amount=1234)
    last = (
        AuditEvent.objects.filter(object_type="charge", object_id=str(paid_charge.pk), action="charge.updated")
        .order_by("id")
        .last()
    )
    assert last.after["amount_refunded"] == 1234
    assert last.after["status"] == "success"


def test_refused_refund_writes_no_money_audit(owner, paid_charge):
    before = AuditEvent.objects.count()
    with pytest.raises(RefundRefused):
        services.refund_create(membership=owner, charge=paid_charge, amount=10001)
    assert AuditEvent.objects.count() == before
    assert Invoice.objects.get(pk=paid_charge.invoice_id).status == "paid"
