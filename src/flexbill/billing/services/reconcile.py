"""Reconcile (docs/rules.md, rule 11): page through every refund of the organization in Stripe and settle what
webhooks missed.

Each page of Stripe's refunds is applied as one batch through the same set-based path as the inbox (apply.py):
new refunds made in Stripe, status changes, and refunds flexbill left "requested" after a crash or timeout.
Then payments still pending in flexbill (SEPA and ACH debits) that Stripe has since settled or failed.
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
from flexbill.audit.services import STRIPE
from flexbill.choices import ChargeSource, ChargeStatus, RefundStatus
from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.types import PaymentResult, RefundInfo, StripeGatewayError

from ..models import Charge, Refund
from ..selectors import charges_named_by_stripe
from .apply import ChargeRefunds, charges_apply_stripe_refunds, refunds_in_sync
from .charges import charge_update_payment
from .refunds import refund_settle

log = logging.getLogger("flexbill.reconcile")
PAGE_SIZE = 100


@dataclass
class ReconcileReport:
    stripe_refunds_seen: int = 0
    charges_checked: int = 0
    refunds_created: int = 0
    refunds_updated: int = 0
    requested_settled: int = 0
    payments_settled: int = 0
    unknown_charges: int = 0
    pages: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.refunds_created + self.refunds_updated + self.requested_settled + self.payments_settled


Progress = Callable[[str, int, int | None], None]


def reconcile_organization(
    organization: Organization, *, progress: Progress | None = None, page_size: int = PAGE_SIZE
) -> ReconcileReport:
    progress = progress or (lambda stage, done, total: None)
    report = ReconcileReport()
    gateway = gateway_for(organization)
    checked, unknown = set(), set()
    pages = gateway.refund_pages(page_size=page_size)
    while True:
        # Webhooks may record newer states while this page is applied; they are kept (see read_at).
        read_at = timezone.now()
        page = next(pages, None)
        if page is None:
            break
        report.pages += 1
        report.stripe_refunds_seen += len(page)
        _apply_page(organization, gateway, page, read_at, report, checked, unknown)
        progress("Reading and applying Stripe's refunds", report.stripe_refunds_seen, None)
    progress("Reading and applying Stripe's refunds", report.stripe_refunds_seen, report.stripe_refunds_seen)
    report.charges_checked, report.unknown_charges = len(checked), len(unknown)

    requested = Refund.objects.filter(organization=organization, status=RefundStatus.REQUESTED).select_related(
        "charge__invoice", "organization"
    )
    for refund in requested:
        try:
            settled = refund_settle(refund=refund, resend=False, actor=STRIPE)
        except Exception as exc:
            report.errors.append(f"refund {refund.pk}: {exc}")
            continue
        if settled.status != RefundStatus.REQUESTED:
            report.requested_settled += 1

    pending = Charge.objects.filter(
        organization=organization, source=ChargeSource.STRIPE, payment_status=ChargeStatus.PENDING
    )
    for charge in pending.select_related("invoice__customer"):
        try:
            result = _payment_now(gateway, charge)
            if result is not None and result.status != ChargeStatus.PENDING:
                charge_update_payment(charge=charge, result=result, actor=STRIPE)
                report.payments_settled += 1
        except Exception as exc:
            report.errors.append(f"charge {charge.pk}: {exc}")
    return report


def _apply_page(organization, gateway, page: list[RefundInfo], read_at, report, checked: set, unknown: set) -> None:
    """One page of Stripe's refunds, as one batch: only the charges not already in step are written."""
    charge_of = charges_named_by_stripe(
        organization=organization,
        charge_ids={r.charge_id for r in page},
        intent_ids={r.payment_intent_id for r in page},
    )
    grouped = defaultdict(list)
    for info in page:
        charge = charge_of(info.charge_id, info.payment_intent_id)
        if charge is None:
            unknown.add(info.charge_id or info.payment_intent_id)
        else:
            grouped[charge.pk].append(info)
    checked.update(grouped)
    local = defaultdict(list)
    for refund in Refund.objects.filter(charge_id__in=list(grouped)):
        local[refund.charge_id].append(refund)
    # Most charges are already in step with Stripe: compare without locking, and lock only to change.
    snapshots = [
        ChargeRefunds(charge_id=pk, refunds=infos, complete=False)
        for pk, infos in grouped.items()
        if not refunds_in_sync(local[pk], infos)
    ]
    incomplete = _apply(snapshots, read_at, report)
    if not incomplete:
        return
    # A page holds only some of a charge's refunds; releasing a requested refund needs all of them.
    read_at = timezone.now()
    whole = []
    for charge in Charge.objects.filter(pk__in=incomplete):
        try:
            refunds = gateway.refunds_for(
                charge_id=charge.stripe_charge_id, payment_intent_id=charge.stripe_payment_intent_id
            )
        except StripeGatewayError as exc:
            report.errors.append(f"charge {charge.pk}: Stripe could not be read: {exc.message}")
            continue
        whole.append(ChargeRefunds(charge_id=charge.pk, refunds=refunds))
    _apply(whole, read_at, report)


def _apply(snapshots: list[ChargeRefunds], read_at, report: ReconcileReport) -> list[int]:
    """Apply as one batch; returns the charges whose partial snapshot needs a whole read."""
    if not snapshots:
        return []
    try:
        return _take(charges_apply_stripe_refunds(snapshots=snapshots, read_at=read_at, actor=STRIPE), report)
    except Exception:  # one bad charge must not stop the others: apply them one at a time, reporting failures
        log.exception("Reconciling a page of %s charge(s) failed; applying them one by one", len(snapshots))
    incomplete = []
    for snapshot in snapshots:
        try:
            result = charges_apply_stripe_refunds(snapshots=[snapshot], read_at=read_at, actor=STRIPE)
        except Exception as exc:
            report.errors.append(f"charge {snapshot.charge_id}: {exc}")
        else:
            incomplete += _take(result, report)
    return incomplete


def _take(result, report: ReconcileReport) -> list[int]:
    report.refunds_created += result.created
    report.refunds_updated += result.updated
    report.requested_settled += result.released
    for charge_id in result.refused:
        report.errors.append(f"charge {charge_id}: Stripe reports refunds beyond the charge's amount.")
    return result.incomplete


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
            status=ChargeStatus.FAILED,
            payment_intent_id=None,
            charge_id=None,
            failure_message="The payment never reached Stripe; no money moved.",
        )
    return found
