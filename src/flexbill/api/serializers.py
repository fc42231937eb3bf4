"""Model -> API dicts. Amounts and statuses come from the models, which derive them in one place."""

from flexbill.billing import rules


def refund_out(refund) -> dict:
    return {
        "id": refund.pk,
        "charge": refund.charge_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "reason": refund.reason,
        "note": refund.note,
        "origin": refund.origin,
        "stripe_refund_id": refund.stripe_refund_id,
        "failure_reason": refund.failure_reason,
        "created_by": refund.created_by.email if refund.created_by else None,
        "created_at": refund.created_at,
        "decided_by": refund.decided_by.email if refund.decided_by else None,
        "decided_at": refund.decided_at,
    }


def charge_out(charge) -> dict:
    return {
        "id": charge.pk,
        "invoice": charge.invoice_id,
        "amount": charge.amount,
        "currency": charge.currency,
        "status": charge.status,
        "display_status": rules.charge_display_status(
            status=charge.status,
            amount=charge.amount,
            amount_refunded=charge.amount_refunded,
            amount_refund_pending=charge.amount_refund_pending,
        ),
        "source": charge.source,
        "reference": charge.reference,
        "payment_method_type": charge.payment_method_type,
        "payment_method_label": charge.payment_method_label,
        "stripe_charge_id": charge.stripe_charge_id,
        "stripe_payment_intent_id": charge.stripe_payment_intent_id,
        "failure_message": charge.failure_message,
        "charged_at": charge.charged_at,
        "amount_refunded": charge.amount_refunded,
        "amount_refund_pending": charge.amount_refund_pending,
        "refundable_amount": charge.refundable_amount,
        "marked_refunded": charge.marked_refunded_at is not None,
        "refunds": [refund_out(r) for r in charge.refunds.all()],
    }


def credit_note_out(note) -> dict:
    return {
        "id": note.pk,
        "number": note.number,
        "invoice": note.invoice_id,
        "amount": note.amount,
        "currency": note.currency,
        "reason": note.reason,
        "refund_method": note.refund_method,
        "refund_reference": note.refund_reference,
        "refunded_on": note.refunded_on,
        "refund": note.refund_id,
        "created_at": note.created_at,
    }


def invoice_summary(invoice) -> dict:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "customer": invoice.customer_id,
        "customer_name": invoice.customer.name,
        "currency": invoice.currency,
        "total": invoice.total,
        "amount_paid": invoice.amount_paid,
        "amount_refunded": invoice.amount_refunded,
        "payment_method": invoice.payment_method,
        "status": invoice.status,
        "issued_on": invoice.issued_on,
    }


def invoice_summaries(rows: list[tuple]) -> list[dict]:
    """invoice_summary of each row of selectors.invoice_summary_list (selectors.INVOICE_SUMMARY_COLUMNS)."""
    return [
        {
            "id": invoice_id,
            "number": number,
            "customer": customer_id,
            "customer_name": customer_name,
            "currency": currency,
            "total": total,
            "amount_paid": amount_paid,
            "amount_refunded": amount_refunded,
            "payment_method": payment_method,
            "status": status,
            "issued_on": issued_on.isoformat(),
        }
        for (
            invoice_id,
            number,
            customer_id,
            customer_name,
            currency,
            total,
            amount_paid,
            amount_refunded,
            payment_method,
            status,
            issued_on,
        ) in rows
    ]


def invoice_out(invoice) -> dict:
    return {
        **invoice_summary(invoice),
        "lines": [{"description": line.description, "amount": line.amount} for line in invoice.lines.all()],
        "charges": [charge_out(c) for c in invoice.charges.all()],
        "credit_notes": [credit_note_out(n) for n in invoice.credit_notes.all()],
    }


def audit_event_out(event, *, summary: str) -> dict:
    return {
        "id": event.pk,
        "at": event.at,
        "actor": event.actor_label,
        "actor_type": event.actor_type,
        "action": event.action,
        "object": f"{event.object_type}:{event.object_id}",
        "before": event.before,
        "after": event.after,
        "message": event.message,
        "summary": summary,
    }
