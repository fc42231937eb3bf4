"""Billing writes, one transaction each: `<entity>_<action>(*, ...)`. Views, API and CLI call these."""

from .charges import charge_create_stripe, charge_mark_refunded, charge_record, charge_update_payment
from .credit_notes import credit_note_create
from .customers import customer_create, payment_method_add
from .derive import charge_refresh, invoice_refresh
from .inbox_apply import inbox_apply_pending
from .invoices import invoice_create
from .reconcile import reconcile_organization
from .refunds import refund_create, refund_settle
from .sync import charge_sync_refunds

__all__ = [
    "charge_create_stripe",
    "charge_mark_refunded",
    "charge_record",
    "charge_refresh",
    "charge_sync_refunds",
    "charge_update_payment",
    "credit_note_create",
    "customer_create",
    "inbox_apply_pending",
    "invoice_create",
    "invoice_refresh",
    "payment_method_add",
    "reconcile_organization",
    "refund_create",
    "refund_settle",
]
