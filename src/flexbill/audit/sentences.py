"""The audit trail as sentences people read: "Refunded €50.00 of INV-000014 — requested by customer".

`audit_sentence` turns one audit row into one sentence, from the row alone plus `AuditNames` (what the row holds only
by id: invoice numbers, Stripe ids, a refund's amount). Pure: no ORM, no I/O; audit/selectors.py reads the names for
a page of rows in a few queries. Money is written in the organization's locale by the money helpers every screen
uses. The API keeps the codes (`action`, `before`, `after`) and adds this sentence as `summary`.

Every action flexbill audits has an entry in SENTENCES (tests/unit/test_audit_sentences.py finds the actions in the
source and fails on one without a sentence). A row whose action is not there still reads as a sentence.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from flexbill.billing.payment_methods import payment_method_label
from flexbill.choices import (
    ChargeSource,
    ChargeStatus,
    InvoiceStatus,
    RecordedRefundMethod,
    RefundBatchAmount,
    RefundReason,
    RefundStatus,
)
from flexbill.web.money import DEFAULT_LOCALE, format_money


@dataclass(frozen=True)
class InvoiceName:
    number: str
    currency: str


@dataclass(frozen=True)
class ChargeName:
    stripe_charge_id: str
    source: str
    payment_method: str  # "Visa ···· 4242", "" when unknown


@dataclass(frozen=True)
class RefundName:
    amount: int
    currency: str
    stripe_refund_id: str


@dataclass(frozen=True)
class StripeEventName:
    event_id: str
    event_type: str


@dataclass(frozen=True)
class AuditNames:
    """What sentences name that audit rows hold only by id, keyed by the row's ids (object ids as strings)."""

    invoices: dict[int, InvoiceName] = field(default_factory=dict)
    charges: dict[str, ChargeName] = field(default_factory=dict)
    refunds: dict[str, RefundName] = field(default_factory=dict)
    stripe_events: dict[str, StripeEventName] = field(default_factory=dict)


NO_NAMES = AuditNames()

REFUND_REASONS = {
    RefundReason.REQUESTED_BY_CUSTOMER: "requested by customer",
    RefundReason.DUPLICATE: "duplicate payment",
    RefundReason.FRAUDULENT: "fraudulent payment",
    RefundReason.OTHER: "other reason",
}
PREFERENCES = {
    "name": "name",
    "default_currency": "default currency",
    "locale": "locale",
    "refund_emails_enabled": "refund e-mails",
    "refund_approval_threshold": "refund approval threshold",
}
MAX_TEXT = 120  # a name or URL quoted in a sentence is cut here


class _Row:
    """One audit row as its sentence reads it: payload values are checked for their type, never trusted."""

    def __init__(self, event, names: AuditNames, locale: str):
        self.event, self.names, self.locale = event, names, locale
        self.before = event.before if isinstance(event.before, dict) else {}
        self.after = event.after if isinstance(event.after, dict) else {}

    def text(self, key: str, *, side: str = "either") -> str:
        for payload in self._sides(side):
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                return _short(value)
        return ""

    def number(self, key: str, *, side: str = "either") -> int | None:
        for payload in self._sides(side):
            value = payload.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    def _sides(self, side: str) -> tuple[dict, ...]:
        return {"after": (self.after,), "before": (self.before,)}.get(side, (self.after, self.before))

    # What the row is about ---------------------------------------------------------------------------------------
    @property
    def invoice(self) -> str:
        name = self.names.invoices.get(self.event.invoice_id)
        if name:
            return name.number
        return f"invoice #{self.event.invoice_id}" if self.event.invoice_id else "an invoice"

    @property
    def currency(self) -> str:
        refund = self.names.refunds.get(str(self.event.object_id)) if self.event.object_type == "refund" else None
        if refund:
            return refund.currency
        name = self.names.invoices.get(self.event.invoice_id)
        return self.text("currency") or (name.currency if name else "")

    def money(self, amount: int | None) -> str:
        if amount is None:
            return "an amount"
        if not self.currency:
            return f"{amount} (minor units)"
        return format_money(amount, self.currency, self.locale)

    @property
    def charge(self) -> str:
        name = self.names.charges.get(str(self.event.object_id))
        if name and name.stripe_charge_id:
            return f"charge {name.stripe_charge_id}"
        if name and name.source in ChargeSource.values and name.source != ChargeSource.STRIPE:
            return f"the {ChargeSource(name.source).label} payment #{self.event.object_id}"
        return f"charge #{self.event.object_id}"

    @property
    def refund_amount(self) -> str:
        amount = self.number("amount")
        if amount is None:
            refund = self.names.refunds.get(str(self.event.object_id))
            amount = refund.amount if refund else None
        return self.money(amount)

    @property
    def stripe_refund(self) -> str:
        refund = self.names.refunds.get(str(self.event.object_id))
        return self.text("stripe_refund_id") or (refund.stripe_refund_id if refund else "")

    @property
    def actor(self) -> str:
        return _short(self.event.actor_label or "") or "someone"


def _short(text: str) -> str:
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return line if len(line) <= MAX_TEXT else line[: MAX_TEXT - 1].rstrip() + "…"


def _label(choices, value: str) -> str:
    """A stored choice's label ("awaiting_payment" -> "Awaiting payment"); a value not (or no longer) among the
    choices reads as its words."""
    return choices(value).label if value in choices.values else _short(value.replace("_", " ")).capitalize()


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _in_stripe(row: _Row) -> str:
    return f" ({row.stripe_refund})" if row.stripe_refund else ""


def _role(ref: str) -> str:
    """owner -> Owner, custom:Billing clerk -> Billing clerk."""
    return ref.removeprefix("custom:") if ref.startswith("custom:") else ref.replace("_", " ").capitalize()


# Refunds ------------------------------------------------------------------------------------------------------
def _refund_requested(row: _Row) -> str:
    reason = REFUND_REASONS.get(row.text("reason"))
    return f"Refunded {row.refund_amount} of {row.invoice}" + (f" — {reason}" if reason else "")


def _refund_synced(row: _Row) -> str:
    status = row.text("status", side="after")
    outcome = "" if status in ("", RefundStatus.SUCCEEDED) else f", {_label(RefundStatus, status).lower()}"
    refund = f"Stripe refund {row.stripe_refund}" if row.stripe_refund else "A Stripe refund"
    return f"{refund} recorded from Stripe: {row.refund_amount} of {row.invoice}{outcome}"


def _refund_now(what: str) -> Callable[[_Row], str]:
    return lambda row: f"Refund of {row.refund_amount} on {row.invoice} {what}{_in_stripe(row)}"


def _refund_canceled(row: _Row) -> str:
    return f"Refund of {row.refund_amount} on {row.invoice} canceled — no money moved"


def _refund_unconfirmed(row: _Row) -> str:
    return (
        f"Stripe did not confirm the refund of {row.refund_amount} on {row.invoice} in time; "
        "flexbill settles it with Stripe automatically"
    )


def _refund_awaiting_approval(row: _Row) -> str:
    reason = REFUND_REASONS.get(row.text("reason"))
    return (
        f"Asked to refund {row.refund_amount} of {row.invoice}"
        + (f" — {reason}" if reason else "")
        + ("; waiting for another person's approval")
    )


def _refund_approved(row: _Row) -> str:
    return f"Approved the refund of {row.refund_amount} on {row.invoice} and sent it to Stripe"


def _refund_approval_rejected(row: _Row) -> str:
    reason = _short(row.event.message or "")
    return f"Rejected the refund of {row.refund_amount} on {row.invoice} — no money moved" + (
        f" ({reason})" if reason else ""
    )


def _refund_approval_expired(row: _Row) -> str:
    return f"Refund of {row.refund_amount} on {row.invoice} expired waiting for approval — no money moved"


def _refund_approval_withdrawn(row: _Row) -> str:
    return (
        f"Withdrew the refund of {row.refund_amount} on {row.invoice} waiting for approval: the charge was marked "
        "refunded — no money moved"
    )


def _refund_rejected(row: _Row) -> str:
    return f"Stripe refused the refund of {row.refund_amount} on {row.invoice} — no money moved"


# Charges and invoices ---------------------------------------------------------------------------------------------
def _charge_created(row: _Row) -> str:
    amount, source = row.money(row.number("amount")), row.text("source", side="after")
    if source and source != ChargeSource.STRIPE:
        reference = row.text("reference", side="after")
        origin = "a manual record" if source == ChargeSource.MANUAL else _label(ChargeSource, source)
        return f"Recorded a payment of {amount} for {row.invoice} from {origin}" + (
            f" (reference {reference})" if reference else ""
        )
    name = row.names.charges.get(str(row.event.object_id))
    paid_with = f" with {name.payment_method}" if name and name.payment_method else ""
    status = row.text("payment_status", side="after")
    if status == ChargeStatus.FAILED:
        return f"Charging {amount}{paid_with} for {row.invoice} failed"
    if status == ChargeStatus.PENDING:
        return f"Charged {amount}{paid_with} for {row.invoice} through Stripe — waiting for the bank"
    return f"Charged {amount}{paid_with} for {row.invoice} through Stripe"


def _charge_payment_updated(row: _Row) -> str:
    status = row.text("payment_status", side="after")
    outcome = {
        ChargeStatus.SUCCESS: "went through",
        ChargeStatus.FAILED: "did not go through",
        ChargeStatus.PENDING: "is pending",
    }.get(status, "changed")
    return f"Payment of {row.money(row.number('amount'))} for {row.invoice} {outcome} ({row.charge})"


def _charge_updated(row: _Row) -> str:
    before, after = row.text("status", side="before"), row.text("status", side="after")
    refunded, reserved = row.number("amount_refunded", side="after"), row.number("amount_reserved", side="after")
    figures = f"{row.money(refunded or 0)} refunded"
    if reserved is not None and refunded is not None and reserved > refunded:
        figures += f", {row.money(reserved - refunded)} pending"
    if before and after and before != after:
        return (
            f"{_capital(row.charge)} of {row.invoice} went from {_label(ChargeStatus, before)} to "
            f"{_label(ChargeStatus, after)}: {figures}"
        )
    return f"{_capital(row.charge)} of {row.invoice}: {figures}"


def _charge_marked_refunded(row: _Row) -> str:
    # services/charges.py charge_mark_refunded words the message "Deleted: …" for a charge deleted.
    deleted = (row.event.message or "").startswith("Deleted")
    what = "Deleted" if deleted else "Marked"
    tail = ", marking it refunded without moving money" if deleted else " refunded without moving money"
    return f"{what} {row.charge} of {row.invoice}{tail}"


def _invoice_created(row: _Row) -> str:
    number = row.text("number", side="after") or row.invoice
    return f"Created invoice {number} for {row.money(row.number('total'))}"


def _invoice_updated(row: _Row) -> str:
    before, after = row.text("status", side="before"), row.text("status", side="after")
    paid, refunded = row.number("amount_paid", side="after"), row.number("amount_refunded", side="after")
    figures = f"{row.money(paid or 0)} paid, {row.money(refunded or 0)} refunded"
    if before and after and before != after:
        return f"{row.invoice} went from {_label(InvoiceStatus, before)} to {_label(InvoiceStatus, after)}: {figures}"
    return f"{row.invoice}: {figures}"


def _credit_note_created(row: _Row) -> str:
    number = row.text("number", side="after") or "a credit note"
    sentence = f"Issued credit note {number} of {row.money(row.number('amount'))} on {row.invoice}"
    method, reference = row.text("refund_method", side="after"), row.text("refund_reference", side="after")
    if row.number("refund", side="after") is not None:
        return sentence + " for a refund through Stripe"
    if method:
        sentence += f" — money returned by {_label(RecordedRefundMethod, method).lower()}"
        return sentence + (f" (reference {reference})" if reference else "")
    return sentence + " — credit only, no money returned"


def _customer_created(row: _Row) -> str:
    name, email = row.text("name", side="after"), row.text("email", side="after")
    return f"Added customer {name or '#' + str(row.event.object_id)}" + (f" ({email})" if email else "")


def _payment_method_added(row: _Row) -> str:
    label = payment_method_label(
        type=row.text("type", side="after"),
        brand=row.text("brand", side="after"),
        bank_name=row.text("bank_name", side="after"),
        last4=row.text("last4", side="after"),
    )
    return f"Saved the payment method {label or 'from Stripe'} for a customer"


# Stripe connection and sync ----------------------------------------------------------------------------------------
def _stripe_secret_key_changed(row: _Row) -> str:
    mode, last4 = row.text("mode", side="after"), row.text("last4", side="after")
    details = ", ".join(part for part in (f"{mode} mode" if mode else "", f"ending {last4}" if last4 else "") if part)
    return "Changed the Stripe secret key" + (f" ({details})" if details else "")


def _stripe_webhook_secret_changed(row: _Row) -> str:
    last4 = row.text("last4", side="after")
    return "Changed the Stripe webhook signing secret" + (f" (ending {last4})" if last4 else "")


def _stripe_test_event_sent(row: _Row) -> str:
    event_id = row.text("event_id", side="after")
    verified = row.event.after.get("verified") if isinstance(row.event.after, dict) else None
    outcome = "verified and stored" if verified is True else "not verified"
    return f"Sent the test event {event_id or ''} to flexbill's Stripe webhook endpoint: {outcome}".replace("  ", " ")


def _stripe_event_retried(row: _Row) -> str:
    name = row.names.stripe_events.get(str(row.event.object_id))
    what = f"{name.event_id} ({name.event_type})" if name and name.event_id else f"#{row.event.object_id}"
    return f"Asked flexbill to apply the Stripe event {what} again"


# People, roles, tokens and the organization ------------------------------------------------------------------------
def _member(row: _Row) -> str:
    return row.text("email") or f"member #{row.event.object_id}"


def _member_role(row: _Row, side: str = "after") -> str:
    role = row.text("role", side=side)
    return _role(role) if role else "a member"


def _organization_preferences_changed(row: _Row) -> str:
    changes = []
    for key, value in row.after.items():
        label = PREFERENCES.get(key, str(key).replace("_", " "))
        was = row.before.get(key)
        if isinstance(value, bool):
            changes.append(f"{label} turned {'on' if value else 'off'}")
        elif key == "refund_approval_threshold" and value is None:
            changes.append(f"{label} removed (approvals off)")
        elif key == "refund_approval_threshold":
            changes.append(f"{label} set to {_short(str(value))} (minor units of the default currency)")
        else:
            changes.append(f"{label} from {_short(str(was))} to {_short(str(value))}" if was else f"{label} set")
    return "Changed the organization's " + ("; ".join(changes) if changes else "settings")


def _role_updated(row: _Row) -> str:
    before, after = row.text("name", side="before"), row.text("name", side="after")
    name = f"{before} (now {after})" if before and after and before != after else (after or before)
    was, now = _permission_set(row.before), _permission_set(row.after)
    changes = [f"{_count(len(now - was), 'permission')} added"] if now - was else []
    changes += [f"{_count(len(was - now), 'permission')} removed"] if was - now else []
    return f"Changed the role {name}" + (f": {', '.join(changes)}" if changes else "")


def _permission_set(payload: dict) -> set[str]:
    permissions = payload.get("permissions")
    return {str(p) for p in permissions} if isinstance(permissions, list) else set()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _permissions(row: _Row, side: str) -> str:
    return _count(len(_permission_set(row.after if side == "after" else row.before)), "permission")


def _endpoint(row: _Row) -> str:
    return row.text("url") or f"#{row.event.object_id}"


# Bulk refunds -----------------------------------------------------------------------------------------------------
def _batch(row: _Row) -> str:
    """ "refund batch 4": the batch row itself, or the batch an item row names."""
    number = row.number("batch", side="after") if row.event.object_type == "refundbatchitem" else None
    return f"refund batch {number if number is not None else row.event.object_id}"


def _batch_queued(row: _Row) -> str:
    amount = row.text("amount", side="after")
    how = "each in full" if amount == RefundBatchAmount.FULL else f"{amount.replace('%', ' %')} of each"
    reason = REFUND_REASONS.get(row.text("reason", side="after"))
    total = row.number("total", side="after")
    charges = _count(total, "charge") if total is not None else "charges"
    return f"Started {_batch(row)}: {charges}, {how}" + (f" — {reason}" if reason else "")


def _batch_done(row: _Row) -> str:
    counts = [(key, row.number(key, side="after")) for key in ("succeeded", "refused", "failed")]
    waiting = row.number("awaiting_approval", side="after")
    parts = [f"{n} {key}" for key, n in counts if n is not None]
    if waiting is not None:
        parts.append(f"{waiting} awaiting approval")
    return _capital(f"{_batch(row)} done") + (f": {', '.join(parts)}" if parts else "")


def _batch_item(template: str, *, why: bool = False) -> Callable[[_Row], str]:
    """`template` names {batch} and {invoice}; `why` adds the item's detail (the refusal, what Stripe said)."""

    def sentence(row: _Row) -> str:
        reason = _short(row.event.message or "")
        text = _capital(template.format(batch=_batch(row), invoice=row.invoice))
        return text + (f": {reason}" if why and reason else "")

    return sentence


SENTENCES: dict[str, Callable[[_Row], str]] = {
    # Refunds
    "refund.requested": _refund_requested,
    "refund.synced": _refund_synced,
    "refund.pending": _refund_now("is pending in Stripe"),
    "refund.requires_action": _refund_now("needs action in Stripe"),
    "refund.succeeded": _refund_now("succeeded in Stripe"),
    "refund.failed": _refund_now("failed in Stripe"),
    "refund.canceled": _refund_canceled,
    "refund.unconfirmed": _refund_unconfirmed,
    "refund.rejected": _refund_rejected,
    "refund.awaiting_approval": _refund_awaiting_approval,
    "refund.approved": _refund_approved,
    "refund.approval_rejected": _refund_approval_rejected,
    "refund.approval_expired": _refund_approval_expired,
    "refund.approval_withdrawn": _refund_approval_withdrawn,
    # Charges, invoices, credit notes, customers
    "charge.created": _charge_created,
    "charge.payment_updated": _charge_payment_updated,
    "charge.updated": _charge_updated,
    "charge.marked_refunded": _charge_marked_refunded,
    "invoice.created": _invoice_created,
    "invoice.updated": _invoice_updated,
    "credit_note.created": _credit_note_created,
    "customer.created": _customer_created,
    "payment_method.added": _payment_method_added,
    # Stripe
    "stripe.secret_key_changed": _stripe_secret_key_changed,
    "stripe.webhook_secret_changed": _stripe_webhook_secret_changed,
    "stripe.test_event_sent": _stripe_test_event_sent,
    "stripe_event.retried": _stripe_event_retried,
    # People and access
    "user.password_changed": lambda row: f"{row.actor} changed their password",
    "user.password_reset": lambda row: f"{row.actor} reset their password through an e-mailed link",
    "api_token.created": lambda row: f"Created the API token “{row.text('name', side='after') or 'unnamed'}”",
    "api_token.revoked": lambda row: f"Revoked the API token “{row.text('name', side='before') or 'unnamed'}”",
    "member.invited": lambda row: f"Invited {_member(row)} as {_member_role(row)}",
    "member.invitation_resent": lambda row: f"Sent {_member(row)} a new invitation as {_member_role(row)}",
    "member.joined": lambda row: f"{_member(row)} accepted the invitation and joined as {_member_role(row)}",
    "member.role_changed": lambda row: (
        f"Changed the role of {_member(row)} from {_member_role(row, 'before')} to {_member_role(row)}"
    ),
    "member.removed": lambda row: f"Removed {_member(row)} from the team, with their API tokens and sessions",
    "member.invitation_withdrawn": lambda row: f"Withdrew the invitation of {_member(row)}",
    "role.created": lambda row: f"Created the role {row.text('name', side='after')} with {_permissions(row, 'after')}",
    "role.updated": _role_updated,
    "role.deleted": lambda row: f"Deleted the role {row.text('name', side='before')}",
    "organization.preferences_changed": _organization_preferences_changed,
    # Outgoing webhooks
    "webhook_endpoint.created": lambda row: f"Registered the webhook endpoint {_endpoint(row)}",
    "webhook_endpoint.paused": lambda row: f"Paused the webhook endpoint {_endpoint(row)}",
    "webhook_endpoint.resumed": lambda row: f"Resumed the webhook endpoint {_endpoint(row)}",
    "webhook_endpoint.deleted": lambda row: f"Deleted the webhook endpoint {_endpoint(row)} and its delivery log",
    # Bulk refunds
    "refund_batch.queued": _batch_queued,
    "refund_batch.running": lambda row: _capital(f"{_batch(row)} started"),
    "refund_batch.resumed": lambda row: _capital(f"{_batch(row)} resumed where its stopped worker left it"),
    "refund_batch.done": _batch_done,
    "refund_batch.item_succeeded": _batch_item("{batch} refunded {invoice}"),
    "refund_batch.item_refused": _batch_item("{batch} did not refund {invoice}", why=True),
    "refund_batch.item_failed": _batch_item("{batch} could not refund {invoice}", why=True),
    "refund_batch.item_awaiting_approval": _batch_item("{batch}: the refund of {invoice} waits for approval"),
}


def audit_sentence(event, *, names: AuditNames = NO_NAMES, locale: str = DEFAULT_LOCALE) -> str:
    """One audit row as a sentence, without the trailing full stop (the UI sets it beside the time and actor)."""
    sentence = SENTENCES.get(event.action)
    if sentence is None:
        return f"{_short(event.action)} on {event.object_type} #{event.object_id}"
    return sentence(_Row(event, names, locale))
