"""Applying Stripe's refunds of many charges at once (docs/rules.md, rule 9): one transaction, set-based writes.

The inbox worker and reconcile both come here. Per charge the decisions are the per-row ones (billing/rules.py:
refund totals, charge and invoice status, which requested refunds to release); the writes are done in bulk:
new refunds inserted together, changed refunds, charges and invoices updated together, audit events inserted
together, and the outbox events that tell e-mails and integrators about them inserted together.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from flexbill.audit.models import AuditEvent
from flexbill.audit.services import STRIPE, Actor, audit_event
from flexbill.bulk_sql import rows_insert_returning, rows_update
from flexbill.outbox.events import (
    REFUND_CANCELED,
    REFUND_CREATED,
    REFUND_OUTCOME_EVENTS,
    charge_event,
    invoice_event,
    refund_event,
    refund_events,
)
from flexbill.outbox.services import outbox_record
from flexbill.stripe_gateway.client import REFUND_REFERENCE_KEY
from flexbill.stripe_gateway.types import RefundInfo

from .. import rules
from ..models import Charge, Invoice, Refund, RefundOrigin, RefundReason, RefundStatus
from .credit_notes import issue_requested_credit_note
from .derive import charge_changed_visibly, charge_derive, invoice_derive
from .locks import lock_charges_of_invoices, lock_invoices_of_charges, outside_refunds_by_invoice, refunds_of_charges

RELEASED_REASON = (
    "Stripe reports refunds that leave no room for this one: it cannot reach Stripe any more. Released; no money moved."
)
REASONS, STATUSES = frozenset(RefundReason.values), frozenset(RefundStatus.values)
REFUND_FIELDS = ["stripe_refund_id", "status", "failure_reason", "stripe_synced_at", "updated_at"]


@dataclass(frozen=True)
class ChargeRefunds:
    """Stripe's refunds of one flexbill charge, as read at one moment.

    complete: every refund Stripe has for the charge (a read of the charge); False for one page of the
    account's refunds (reconcile), which cannot prove that a requested refund is not in Stripe.
    """

    charge_id: int
    refunds: list[RefundInfo]
    complete: bool = True


@dataclass
class ChargeOutcome:
    created: int = 0
    updated: int = 0
    released: int = 0
    error: str = ""  # the charge was left as it was (see ApplyResult.refused)

    def describe(self) -> str:
        if self.error:
            return self.error
        if not (self.created or self.updated or self.released):
            return "In step with Stripe."
        text = f"Applied: {self.created} refund(s) recorded, {self.updated} updated"
        return text + (f", {self.released} requested refund(s) released." if self.released else ".")


@dataclass
class ApplyResult:
    charges: dict[int, ChargeOutcome] = field(default_factory=dict)
    # Partial snapshots that would need a requested refund released: read these charges whole and apply again.
    incomplete: list[int] = field(default_factory=list)
    # Charges Stripe reports more refunds on than their amount: nothing recorded for them.
    refused: list[int] = field(default_factory=list)
    # Every refund of the applied charges that Stripe knows, by Stripe's id, as written.
    refunds: dict[str, Refund] = field(default_factory=dict)

    @property
    def created(self) -> int:
        return sum(o.created for o in self.charges.values())

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.charges.values())

    @property
    def released(self) -> int:
        return sum(o.released for o in self.charges.values())


@dataclass
class _Writes:
    new_refunds: list[Refund] = field(default_factory=list)
    changed_refunds: dict[int, Refund] = field(default_factory=dict)
    audits: list = field(default_factory=list)  # AuditEvents, or callables building one once a new refund has a pk
    events: list = field(default_factory=list)  # OutboxEvents, or callables likewise
    charges: list[Charge] = field(default_factory=list)
    invoice_ids: set[int] = field(default_factory=set)
    credit_notes: list[Refund] = field(default_factory=list)


def charges_apply_stripe_refunds(
    *, snapshots: list[ChargeRefunds], read_at: datetime, actor: Actor = STRIPE
) -> ApplyResult:
    """Upsert Stripe's refunds of these charges and derive their and their invoices' amounts and statuses.

    Safe to run any number of times, in any order: refunds are keyed by Stripe's id (or flexbill's reference in
    Stripe's metadata), and a refund already updated from a later read keeps that newer state (`read_at`).
    """
    result = ApplyResult()
    if not snapshots:
        return result
    with transaction.atomic():
        charge_ids = sorted({s.charge_id for s in snapshots})
        charges = _lock(charge_ids)
        local = defaultdict(list)
        for refund in refunds_of_charges(charge_ids):
            local[refund.charge_id].append(refund)
        writes = _Writes()
        for snapshot in snapshots:
            charge = charges.get(snapshot.charge_id)
            if charge is None:
                continue
            outcome = _plan_charge(charge, local[charge.pk], snapshot, read_at, actor, writes, result)
            result.charges[charge.pk] = outcome
        _write(writes, charges, actor)
    applied = [cid for cid, outcome in result.charges.items() if not outcome.error]
    result.refunds = {r.stripe_refund_id: r for cid in applied for r in local[cid] if r.stripe_refund_id}
    result.refunds.update({r.stripe_refund_id: r for r in writes.new_refunds})  # only applied charges' are written
    return result


def _lock(charge_ids: list[int]) -> dict[int, Charge]:
    """Lock the charges' invoices, then every charge of those invoices, each in id order: the one lock order of
    locks.py, for many rows. All of an invoice's charges, because its figures are derived from all of them."""
    invoices = lock_invoices_of_charges(charge_ids)
    charges = {}
    for charge in lock_charges_of_invoices(list(invoices)):
        charge.invoice = invoices[charge.invoice_id]
        charges[charge.pk] = charge
    return charges


def _plan_charge(charge, refunds, snapshot, read_at, actor, writes: _Writes, result: ApplyResult) -> ChargeOutcome:
    """Decide every change for one charge in memory; add it to `writes` only if the charge can take it."""
    outcome = ChargeOutcome()
    plan = _Writes()
    refunds = list(refunds)
    by_stripe_id = {r.stripe_refund_id: r for r in refunds if r.stripe_refund_id}
    by_reference = {str(r.reference): r for r in refunds}
    for info in sorted(snapshot.refunds, key=lambda i: (i.created.timestamp() if i.created else 0, i.id)):
        refund = by_stripe_id.get(info.id)
        if refund is None:
            mine = by_reference.get(info.metadata.get(REFUND_REFERENCE_KEY, ""))
            if mine is not None and mine.stripe_refund_id in (None, info.id):
                refund = mine
        if refund is None:
            refund = _new_refund(charge, info, read_at)
            plan.new_refunds.append(refund)
            plan.audits.append(_synced_audit(refund, charge, actor))
            plan.events += _synced_events(refund, charge, actor)
            by_stripe_id[info.id] = refund
            refunds.append(refund)
            outcome.created += 1
        elif _take_stripe_state(refund, info, read_at, charge, actor, plan):
            outcome.updated += 1

    _, reserved = rules.refund_totals(refunds)
    if reserved > charge.amount:
        requested = [r for r in refunds if r.status == RefundStatus.REQUESTED]
        if not snapshot.complete and requested:
            result.incomplete.append(charge.pk)
            return ChargeOutcome(error="Waiting for a whole read of the charge.")
        releasable = requested + [r for r in refunds if r.status == RefundStatus.AWAITING_APPROVAL]
        for refund in rules.requested_refunds_to_release(amount=charge.amount, reserved=reserved, requested=releasable):
            _release(refund, charge, actor, plan)
            outcome.released += 1
        _, reserved = rules.refund_totals(refunds)
        if reserved > charge.amount:
            result.refused.append(charge.pk)
            return ChargeOutcome(
                error=f"Stripe reports refunds on charge {charge.pk} beyond its amount; nothing was recorded."
            )

    before, after = charge_derive(charge, refunds)
    if after != before:
        charge.updated_at = timezone.now()
        plan.charges.append(charge)
        if charge_changed_visibly(before, after):
            plan.audits.append(
                audit_event(
                    organization_id=charge.organization_id,
                    actor=actor,
                    action="charge.updated",
                    obj=charge,
                    before=before,
                    after=after,
                    invoice_id=charge.invoice_id,
                )
            )
            plan.events.append(charge_event(charge, actor=actor, previous=before))
            plan.invoice_ids.add(charge.invoice_id)
    writes.new_refunds += plan.new_refunds
    writes.changed_refunds.update(plan.changed_refunds)
    writes.audits += plan.audits
    writes.events += plan.events
    writes.charges += plan.charges
    writes.invoice_ids |= plan.invoice_ids
    writes.credit_notes += plan.credit_notes
    return outcome


def _new_refund(charge: Charge, info: RefundInfo, read_at: datetime) -> Refund:
    reason = info.reason or info.metadata.get("flexbill_reason") or RefundReason.OTHER
    refund = Refund(
        organization_id=charge.organization_id,
        charge=charge,
        amount=info.amount,
        currency=info.currency,
        reason=reason if reason in REASONS else RefundReason.OTHER,
        status=info.status if info.status in STATUSES else RefundStatus.PENDING,
        failure_reason=(info.failure_reason or "")[:500],
        origin=RefundOrigin.STRIPE,
        stripe_refund_id=info.id,
        stripe_synced_at=read_at,
        note="Refunded in Stripe",
    )
    return refund


def _synced_audit(refund: Refund, charge: Charge, actor: Actor):
    def build():
        return audit_event(
            organization_id=charge.organization_id,
            actor=actor,
            action="refund.synced",
            obj=refund,
            after={
                "amount": refund.amount,
                "status": refund.status,
                "stripe_refund_id": refund.stripe_refund_id,
                "origin": RefundOrigin.STRIPE,
            },
            message="Refund made in Stripe",
            invoice_id=charge.invoice_id,
        )

    return build


def _synced_events(refund: Refund, charge: Charge, actor: Actor) -> list:
    """A refund first seen in Stripe is created and, usually, already succeeded or failed: an event for each."""

    def created():
        return refund_event(REFUND_CREATED, refund, invoice_id=charge.invoice_id, actor=actor)

    events = [created]
    if refund.status in REFUND_OUTCOME_EVENTS:
        event_type = REFUND_OUTCOME_EVENTS[refund.status]
        events.append(lambda: refund_event(event_type, refund, invoice_id=charge.invoice_id, actor=actor))
    return events


def _state(refund: Refund) -> dict:
    return {
        "status": refund.status,
        "stripe_refund_id": refund.stripe_refund_id,
        "failure_reason": refund.failure_reason,
    }


def _take_stripe_state(refund, info, read_at, charge, actor, plan: _Writes) -> bool:
    """Stripe's state of a refund flexbill holds, unless flexbill already holds a later read. True if changed."""
    if refund.stripe_synced_at is not None and refund.stripe_synced_at > read_at:
        return False
    before = _state(refund)
    refund.stripe_synced_at = read_at
    refund.stripe_refund_id = info.id
    refund.status = info.status if info.status in STATUSES else RefundStatus.PENDING
    refund.failure_reason = (info.failure_reason or "")[:500]
    plan.changed_refunds[refund.pk] = refund
    after = _state(refund)
    if after == before:
        return False
    refund.updated_at = timezone.now()
    plan.audits.append(
        audit_event(
            organization_id=refund.organization_id,
            actor=actor,
            action=f"refund.{refund.status}",
            obj=refund,
            before=before,
            after=after,
            message=refund.failure_reason,
            invoice_id=charge.invoice_id,
        )
    )
    plan.events += refund_events(refund, invoice_id=charge.invoice_id, actor=actor, previous=before)
    if refund.credit_note_requested:
        plan.credit_notes.append(refund)
    return True


def _release(refund, charge, actor, plan: _Writes) -> None:
    before = _state(refund)
    refund.status = RefundStatus.CANCELED
    refund.failure_reason = RELEASED_REASON
    refund.updated_at = timezone.now()
    plan.changed_refunds[refund.pk] = refund
    plan.audits.append(
        audit_event(
            organization_id=refund.organization_id,
            actor=actor,
            action="refund.canceled",
            obj=refund,
            before=before,
            after=_state(refund),
            message=RELEASED_REASON,
            invoice_id=charge.invoice_id,
        )
    )
    plan.events.append(
        refund_event(REFUND_CANCELED, refund, invoice_id=charge.invoice_id, actor=actor, previous=before)
    )


def _write(writes: _Writes, charges: dict[int, Charge], actor: Actor) -> None:
    rows_insert_returning(Refund, writes.new_refunds)
    rows_update(Refund, list(writes.changed_refunds.values()), REFUND_FIELDS)
    rows_update(Charge, writes.charges, ["amount_refunded", "amount_reserved", "status", "updated_at"])
    audits = [a() if callable(a) else a for a in writes.audits]
    events = [e() if callable(e) else e for e in writes.events]
    invoice_audits, invoice_events = _refresh_invoices(writes.invoice_ids, charges, actor)
    outbox_record(events + invoice_events, alongside=[(AuditEvent, audits + invoice_audits)])
    for refund in writes.credit_notes:
        refund.charge = charges[refund.charge_id]
        issue_requested_credit_note(refund=refund, actor=actor, invoice_id=refund.charge.invoice_id)


def _refresh_invoices(invoice_ids: set[int], locked: dict[int, Charge], actor: Actor) -> tuple[list, list]:
    """Recompute the invoices whose charges changed, from all their charges; returns their audit and outbox events."""
    if not invoice_ids:
        return [], []
    by_invoice = defaultdict(list)
    for charge in locked.values():  # every charge of these invoices is locked (_lock)
        by_invoice[charge.invoice_id].append(charge)
    outside = outside_refunds_by_invoice(sorted(invoice_ids))
    invoices = {c.invoice_id: c.invoice for c in locked.values() if c.invoice_id in invoice_ids}
    changed, audits, events = [], [], []
    for invoice_id, invoice in sorted(invoices.items()):
        charges = by_invoice[invoice_id]
        figures = rules.invoice_refunds(charges, outside_refunds=outside.get(invoice_id, 0))
        before, after, figures = invoice_derive(invoice, charges, figures)
        if after != before:
            invoice.updated_at = timezone.now()
            changed.append(invoice)
            audits.append(
                audit_event(
                    organization_id=invoice.organization_id,
                    actor=actor,
                    action="invoice.updated",
                    obj=invoice,
                    before=before,
                    after=after,
                    message=figures.excess_note,
                    invoice_id=invoice.pk,
                )
            )
            events.append(invoice_event(invoice, actor=actor, previous=before))
    rows_update(Invoice, changed, ["amount_paid", "amount_refunded", "status", "updated_at"])
    return audits, events


def refunds_in_sync(local: list[Refund], refunds: list[RefundInfo]) -> bool:
    """True when every Stripe refund is already recorded with Stripe's status: nothing to lock or write."""
    by_stripe_id = {r.stripe_refund_id: r for r in local if r.stripe_refund_id}
    for info in refunds:
        refund = by_stripe_id.get(info.id)
        if refund is None or refund.status != info.status or refund.failure_reason != (info.failure_reason or "")[:500]:
            return False
    return True
