from django.db import transaction
from django.utils import timezone

from flexbill.accounts.permissions import Permission
from flexbill.audit.services import Actor, audit_record
from flexbill.choices import ChargeStatus, InvoiceStatus
from flexbill.errors import Conflict, InvalidInput, NotFound, StripeFailed
from flexbill.stripe_gateway.client import CHARGE_ID_KEY, gateway_for
from flexbill.stripe_gateway.types import PaymentMethodInfo, PaymentResult, StripeGatewayError

from .. import rules
from ..models import Charge, ChargeSource, Invoice, PaymentMethod
from ..refusals import RefundRefused
from .approvals import refund_approvals_withdraw_locked
from .derive import charge_refresh, charge_snapshot, invoice_figures
from .invoices import validate_amount
from .locks import lock_charge, lock_invoice

RECORDED_SOURCES = (ChargeSource.XERO, ChargeSource.QUICKBOOKS, ChargeSource.MANUAL)


def _amount_for(invoice: Invoice, amount: object) -> int:
    """The amount to charge or record (default: all that is owed). Caller holds the invoice lock. A draft or voided
    invoice takes no payment, through Stripe or recorded from elsewhere."""
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOIDED):
        raise Conflict(f"A {invoice.status} invoice cannot be charged.", code="invoice_not_payable")
    pending = sum(c.amount for c in invoice.charges.filter(payment_status=ChargeStatus.PENDING))
    owed = rules.amount_owed(total=invoice.total, amount_paid=invoice.amount_paid, amount_pending=pending)
    waiting = f" ({pending} in payments still pending)" if pending else ""
    if amount is None:
        if owed == 0:
            raise Conflict(f"Nothing is left to charge on this invoice{waiting}.", code="invoice_paid")
        return owed
    amount = validate_amount(amount)
    if amount > owed:
        raise Conflict(f"The amount is more than the invoice still owes: {owed}{waiting}.", code="amount_too_large")
    return amount


def charge_create_stripe(*, invoice: Invoice, payment_method_id: int, actor: Actor, amount: object = None) -> Charge:
    """Charge a saved payment method through Stripe, off-session. A decline gives a failed charge."""
    actor.require(Permission.INVOICES_MANAGE, organization_id=invoice.organization_id)
    method = PaymentMethod.objects.filter(pk=payment_method_id, customer_id=invoice.customer_id).first()
    if method is None:
        raise NotFound("No such payment method on this invoice's customer.")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id=invoice.pk)
        amount = _amount_for(invoice, amount)
        # Recorded before Stripe is called, so its id can key the PaymentIntent's idempotency.
        charge = Charge.objects.create(
            organization_id=invoice.organization_id,
            invoice=invoice,
            amount=amount,
            currency=invoice.currency,
            source=ChargeSource.STRIPE,
            payment_status=ChargeStatus.PENDING,
            status=ChargeStatus.PENDING,
            payment_method=method,
            payment_method_type=method.type,
            payment_method_brand=method.brand,
            payment_method_bank=method.bank_name,
            payment_method_last4=method.last4,
            charged_at=timezone.now(),
        )
    try:
        result = gateway_for(invoice.organization).charge(
            customer_id=invoice.customer.stripe_customer_id,
            payment_method=PaymentMethodInfo(id=method.stripe_payment_method_id, type=method.type),
            amount=amount,
            currency=invoice.currency,
            metadata={CHARGE_ID_KEY: str(charge.pk), "flexbill_invoice": invoice.number},
            idempotency_key=f"flexbill-charge-{charge.pk}-{charge.created_at.timestamp():.0f}",
        )
    except StripeGatewayError as exc:
        if not exc.maybe_applied:
            Charge.objects.filter(pk=charge.pk).delete()
            raise StripeFailed(f"Stripe could not charge the payment method: {exc.message}") from exc
        result = PaymentResult(
            status=ChargeStatus.PENDING, payment_intent_id=None, charge_id=None, failure_message=exc.message
        )
    return charge_update_payment(charge=charge, result=result, actor=actor, created=True)


def charge_update_payment(*, charge: Charge, result: PaymentResult, actor: Actor, created: bool = False) -> Charge:
    """Store what Stripe says the payment did (at creation, or later for a pending SEPA debit)."""
    with transaction.atomic():
        charge = lock_charge(charge_id=charge.pk)
        before = {"payment_status": charge.payment_status, **charge_snapshot(charge)}
        if not created and before["payment_status"] == result.status:
            return charge
        charge.payment_status = result.status
        charge.status = result.status
        charge.stripe_payment_intent_id = result.payment_intent_id or charge.stripe_payment_intent_id
        charge.stripe_charge_id = result.charge_id or charge.stripe_charge_id
        charge.failure_message = result.failure_message[:500]
        if result.paid_with is not None:
            _take_paid_with(charge, result.paid_with)
        charge.save()
        audit_record(
            organization_id=charge.organization_id,
            actor=actor,
            action="charge.created" if created else "charge.payment_updated",
            obj=charge,
            before=None if created else before,
            after={"payment_status": result.status, "amount": charge.amount, "source": charge.source},
            message=result.failure_message,
            invoice_id=charge.invoice_id,
        )
        charge_refresh(charge=charge, actor=actor, payment_changed=True)
    return charge


def _take_paid_with(charge: Charge, method: PaymentMethodInfo) -> None:
    """What Stripe says the charge was paid with overrides what flexbill asked it to charge (a card may be paid
    through a wallet, a bank account's name may be known only once it is debited)."""
    charge.payment_method_type = method.type[:40]
    charge.payment_method_brand = method.brand[:40]
    charge.payment_method_bank = method.bank_name[:100]
    charge.payment_method_last4 = method.last4[-4:]


def charge_record(*, invoice: Invoice, source: str, amount: object, reference: str, actor: Actor) -> Charge:
    """Record a payment made in another system (Xero, QuickBooks) or by hand. No money moves."""
    actor.require(Permission.INVOICES_MANAGE, organization_id=invoice.organization_id)
    if source not in RECORDED_SOURCES:
        raise InvalidInput("source must be stripe, xero, quickbooks or manual.", code="source_invalid")
    if amount is None:
        raise InvalidInput("amount is required for a recorded charge.", code="amount_invalid")
    reference = (reference or "").strip()
    if len(reference) > 255:
        raise InvalidInput("reference must be at most 255 characters.", code="reference_invalid")
    with transaction.atomic():
        invoice = lock_invoice(invoice_id=invoice.pk)
        amount = _amount_for(invoice, amount)
        charge = Charge.objects.create(
            organization_id=invoice.organization_id,
            invoice=invoice,
            amount=amount,
            currency=invoice.currency,
            source=source,
            payment_status=ChargeStatus.SUCCESS,
            status=ChargeStatus.SUCCESS,
            reference=reference,
            charged_at=timezone.now(),
        )
        audit_record(
            organization_id=charge.organization_id,
            actor=actor,
            action="charge.created",
            obj=charge,
            after={"payment_status": ChargeStatus.SUCCESS, "amount": amount, "source": source, "reference": reference},
            invoice_id=invoice.pk,
        )
        charge.invoice = invoice
        charge_refresh(charge=charge, actor=actor, payment_changed=True)
    return charge


MARK_REFUNDED_PERMISSION = {"status": Permission.CHARGES_CHANGE_STATUS, "delete": Permission.CHARGES_DELETE}


def charge_mark_refunded(*, actor: Actor, charge: Charge, via: str) -> Charge:
    """Mark a charge Refunded without moving money ("Change status → Refunded", or "Delete").

    Only a paid charge, and never beyond what its invoice may still show refunded (rules.mark_refunded_refusal).
    Its refunds still awaiting approval are withdrawn in the same transaction: the mark counts all of the charge's
    money as returned, so none of them may be sent to Stripe any more.
    """
    actor.require(MARK_REFUNDED_PERMISSION[via], organization_id=charge.organization_id)
    with transaction.atomic():
        charge = lock_charge(charge_id=charge.pk)
        refusal = rules.mark_refunded_refusal(charge, invoice=invoice_figures(charge.invoice))
        if refusal:
            raise RefundRefused(refusal)
        before = charge_snapshot(charge)
        refund_approvals_withdraw_locked(charge=charge, actor=actor)
        charge.marked_refunded_at = timezone.now()
        charge.save(update_fields=["marked_refunded_at", "updated_at"])
        what = "Deleted" if via == "delete" else "Status changed to Refunded"
        audit_record(
            organization_id=charge.organization_id,
            actor=actor,
            action="charge.marked_refunded",
            obj=charge,
            before=before,
            after={**before, "status": ChargeStatus.REFUNDED},
            message=f"{what}: marked refunded, no money moved.",
            invoice_id=charge.invoice_id,
        )
        charge_refresh(charge=charge, actor=actor, message="Marked refunded, no money moved.")
    return charge
