"""Reconcile (rule 11): ask Stripe for every refund of the organization and settle what webhooks missed.

New refunds made in Stripe, status changes, refunds flexbill left "requested" after a crash or timeout, and
payments still pending in flexbill (SEPA and ACH debits) that Stripe has since settled or failed.
Running it twice changes nothing the second time.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from flexbill.accounts.models import Organization

from .client import gateway_for
from .types import PaymentResult

log = logging.getLogger("flexbill.reconcile")


@dataclass
class ReconcileReport:
    stripe_refunds_seen: int = 0
    charges_checked: int = 0
    refunds_created: int = 0
    refunds_updated: int = 0
    requested_settled: int = 0
    payments_settled: int = 0
    unknown_charges: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.refunds_created + self.refunds_updated + self.requested_settled + self.payments_settled


Progress = Callable[[str, int, int | None], None]


def reconcile_organization(organization: Organization, *, progress: Progress | None = None) -> ReconcileReport:
    from flexbill.audit.services import STRIPE
    from flexbill.billing.models import Charge, Refund
    from flexbill.billing.services import charge_sync_refunds, charge_update_payment, refund_settle
    from flexbill.billing.services.sync import refunds_in_sync

    progress = progress or (lambda stage, done, total: None)
    report = ReconcileReport()
    gateway = gateway_for(organization)

    # Webhooks may record newer states while this snapshot is processed; they are kept (see read_at).
    read_at = timezone.now()
    by_charge: dict[str, list] = defaultdict(list)
    for info in gateway.refunds_all():
        report.stripe_refunds_seen += 1
        if info.charge_id:
            by_charge[info.charge_id].append(info)
        if report.stripe_refunds_seen % 100 == 0:
            progress("Reading refunds from Stripe", report.stripe_refunds_seen, None)
    progress("Reading refunds from Stripe", report.stripe_refunds_seen, report.stripe_refunds_seen)

    charge_ids = list(by_charge)
    known = {}
    for start in range(0, len(charge_ids), 500):
        chunk = charge_ids[start : start + 500]
        for charge in Charge.objects.filter(organization=organization, stripe_charge_id__in=chunk).prefetch_related(
            "refunds"
        ):
            known[charge.stripe_charge_id] = charge
    report.unknown_charges = len(charge_ids) - len(known)
    for done, (stripe_charge_id, charge) in enumerate(known.items(), start=1):
        report.charges_checked += 1
        progress("Settling refunds", done, len(known))
        # Most charges are already in step with Stripe: compare without locking, and lock only to change.
        if refunds_in_sync(list(charge.refunds.all()), by_charge[stripe_charge_id]):
            continue
        try:
            result = charge_sync_refunds(
                charge=charge, refunds=by_charge[stripe_charge_id], actor=STRIPE, read_at=read_at
            )
        except Exception as exc:  # one bad charge must not stop the others; it is reported
            log.exception("Reconciling charge %s failed", charge.pk)
            report.errors.append(f"charge {charge.pk}: {exc}")
            continue
        report.refunds_created += result.created
        report.refunds_updated += result.updated

    requested = Refund.objects.filter(organization=organization, status="requested").select_related(
        "charge__invoice", "organization"
    )
    for refund in requested:
        try:
            settled = refund_settle(refund=refund, resend=False, actor=STRIPE)
        except Exception as exc:
            report.errors.append(f"refund {refund.pk}: {exc}")
            continue
        if settled.status != "requested":
            report.requested_settled += 1

    pending = Charge.objects.filter(organization=organization, source="stripe", payment_status="pending")
    for charge in pending.select_related("invoice__customer"):
        try:
            result = _payment_now(gateway, charge)
            if result is not None and result.status != "pending":
                charge_update_payment(charge=charge, result=result, actor=STRIPE)
                report.payments_settled += 1
        except Exception as exc:
            report.errors.append(f"charge {charge.pk}: {exc}")
    return report


def _payment_now(gateway, charge):
    """What Stripe says of a payment flexbill holds as pending; None when there is nothing to say yet."""
    if charge.stripe_payment_intent_id:
        return gateway.payment_intent_status(charge.stripe_payment_intent_id)
    if charge.payment_method_id is None:
        return None  # not one flexbill sent to Stripe itself: nothing to look for
    # flexbill's own charge whose PaymentIntent creation timed out: Stripe has it under our metadata, or never got it.
    found = gateway.payment_for_charge(
        customer_id=charge.invoice.customer.stripe_customer_id, flexbill_charge_id=charge.pk
    )
    grace = timedelta(seconds=settings.FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS)
    if found is None and timezone.now() - charge.created_at > grace:
        return PaymentResult(
            status="failed",
            payment_intent_id=None,
            charge_id=None,
            failure_message="The payment never reached Stripe; no money moved.",
        )
    return found
