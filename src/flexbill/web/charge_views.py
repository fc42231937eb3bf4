"""Actions on one charge, shown in the invoice page's dialog: details, Send Refund, mark Refunded (no money moves)."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from flexbill.accounts.permissions import Permission
from flexbill.billing import approval_rules, rules, selectors, services, stripe_reads
from flexbill.billing.refusals import RefundRefused, Refusal
from flexbill.billing.services.charges import MARK_REFUNDED_PERMISSION
from flexbill.billing.services.derive import invoice_figures
from flexbill.errors import Conflict, InvalidInput, StripeFailed

from .access import error_page, is_htmx, member_view
from .forms import RefundForm
from .idempotency_keys import KEY_REUSED, new_idempotency_key, with_new_key
from .money import AmountError, format_money, parse_major
from .views import invoice_context

# The service's 409 idempotency_key_reused, in the dialog's words: the first refund stands, this one waits for a click.
FORM_ALREADY_USED = (
    "This form already sent a refund with a different amount, reason, note or credit note, so nothing more was "
    "refunded; that refund is on the invoice. To send this one as well, check it and press Send Refund again."
)


def _charge(request, charge_id: int):
    return selectors.charge_get(organization=request.membership.organization, charge_id=charge_id)


def _eligibility(request, charge):
    return rules.refund_eligibility(
        charge,
        now=timezone.now(),
        can_refund=request.actor.may(Permission.CHARGES_REFUND),
        invoice=invoice_figures(charge.invoice),
    )


def _done(request, charge, *, template: str, extra: dict):
    """After a change: the dialog says what happened and the invoice page's sections are swapped in place."""
    if not is_htmx(request):
        return redirect("web:invoice_detail", invoice_id=charge.invoice_id)
    invoice = selectors.invoice_get(organization=request.membership.organization, invoice_id=charge.invoice_id)
    context = invoice_context(request, invoice)
    context.update(extra, charge=next(c for c in invoice.charges.all() if c.pk == charge.pk), oob=True)
    return render(request, template, context)


@require_GET
@member_view
def charge_details(request, charge_id: int):
    charge = _charge(request, charge_id)
    details, details_problem = None, None
    try:
        details = stripe_reads.charge_stripe_details(charge=charge)
    except (Conflict, StripeFailed) as exc:
        details_problem = exc.detail
    return render(
        request,
        "web/partials/charge_details.html",
        {
            "charge": charge,
            "details": details,
            "details_problem": details_problem,
            "eligibility": _eligibility(request, charge),
        },
    )


@require_http_methods(["GET", "POST"])
@member_view
def charge_refund(request, charge_id: int):
    charge = _charge(request, charge_id)
    locale = request.membership.organization.locale
    if request.method == "GET":
        eligibility = _eligibility(request, charge)
        initial = {"amount": eligibility.amount, "idempotency_key": new_idempotency_key()}
        form = RefundForm(currency=charge.currency, locale=locale, initial=initial)
        context = {"eligibility": eligibility, "preview": _preview(request, charge, eligibility.amount)}
        return render(request, "web/partials/refund_form.html", {"charge": charge, "form": form, **context})

    form = RefundForm(request.POST, currency=charge.currency, locale=locale)
    if form.is_valid():
        try:
            refund = services.refund_create(actor=request.actor, charge=charge, **form.cleaned_data)
        except RefundRefused as exc:
            if exc.status == 403:
                return error_page(request, status=403, title="Not allowed", detail=exc.detail)
            form.add_domain_error(exc, form.ERROR_FIELDS)
        except (InvalidInput, Conflict, StripeFailed) as exc:
            if exc.code == KEY_REUSED:
                form = _refused_with_new_key(request, charge, FORM_ALREADY_USED)
            else:
                form.add_domain_error(exc, form.ERROR_FIELDS)
        else:  # also the answer to the same form sent again: the refund it already made, never a second one
            sent = format_money(refund.amount, refund.currency, locale)  # as it was previewed, in the org's format
            extra = {"refund": refund, "sent": sent}
            return _done(request, charge, template="web/partials/refund_sent.html", extra=extra)
    elif form.has_error("idempotency_key"):  # sent without its key: nothing is refunded on a guess
        if not request.actor.may(Permission.CHARGES_REFUND):  # nor would be with one: say that, not "expired"
            return error_page(request, status=403, title="Not allowed", detail=Refusal.PERMISSION_DENIED.sentence)
        form = _refused_with_new_key(request, charge, form.errors["idempotency_key"][0])
    # The form's own errors say what is wrong; the preview only repeats the amount as understood.
    preview = _preview(request, charge, form.cleaned_data.get("amount"), explain=False)
    return render(
        request,
        "web/partials/refund_form.html",
        {"charge": charge, "form": form, "eligibility": None, "preview": preview},
    )


def _refused_with_new_key(request, charge, message: str) -> RefundForm:
    """The dialog as it was sent, saying why nothing was refunded, with a fresh one-time key: sending it now is the
    person's deliberate choice."""
    locale = request.membership.organization.locale
    form = RefundForm(with_new_key(request.POST), currency=charge.currency, locale=locale)
    form.is_valid()
    form.add_error(None, message)
    return form


@require_GET
@member_view
def charge_refund_preview(request, charge_id: int):
    """What the refund dialog will send, read from the amount typed so far by the same parser as the form itself:
    the server is the only reader of typed amounts, so what staff confirm is exactly what is sent."""
    charge = _charge(request, charge_id)
    try:
        amount = parse_major(request.GET.get("amount", ""), charge.currency, request.membership.organization.locale)
    except AmountError as exc:
        preview = {**_preview(request, charge, None), "problem": str(exc)}
    else:
        preview = _preview(request, charge, amount)
    return render(request, "web/partials/refund_preview.html", {"preview": preview})


def _preview(request, charge, amount: int | None, *, explain: bool = True) -> dict:
    """ "Will refund 12,50 € of 150,00 €": the amount as understood, in the organization's locale, or why not."""
    locale = request.membership.organization.locale
    problem = None
    if amount and explain:
        eligibility = rules.refund_eligibility(
            charge,
            now=timezone.now(),
            can_refund=request.actor.may(Permission.CHARGES_REFUND),
            amount=amount,
        )
        problem = None if eligibility.allowed else eligibility.refusal.sentence
    organization = request.membership.organization
    threshold = organization.refund_approval_threshold
    return {
        "amount": format_money(amount, charge.currency, locale) if amount else None,
        "charge": format_money(charge.amount, charge.currency, locale),
        "refundable": format_money(charge.refundable_amount, charge.currency, locale),
        "problem": problem,
        # Said before sending: this refund will wait for another person's approval (docs/rules.md, rule 21).
        "needs_approval": bool(amount)
        and approval_rules.refund_needs_approval(
            amount=amount, currency=charge.currency, threshold=threshold, default_currency=organization.default_currency
        ),
        "threshold": format_money(threshold, organization.default_currency, locale) if threshold else None,
    }


MARK_ACTIONS = {
    "status": {"title": "Change status to Refunded", "button": "Mark as Refunded"},
    "delete": {"title": "Delete payment", "button": "Delete payment"},
}


@require_http_methods(["GET", "POST"])
@member_view
def charge_mark_refunded(request, charge_id: int, via: str):
    if via not in MARK_ACTIONS:
        raise Http404("No such action.")
    charge = _charge(request, charge_id)
    context = {"charge": charge, "via": via, "action": MARK_ACTIONS[via], "problem": None}
    if request.method == "POST":
        try:
            charge = services.charge_mark_refunded(actor=request.actor, charge=charge, via=via)
        except RefundRefused as exc:
            context["problem"] = exc.detail
        else:
            return _done(
                request,
                charge,
                template="web/partials/charge_marked.html",
                extra={"via": via, "action": MARK_ACTIONS[via]},
            )
    else:
        refusal = rules.mark_refunded_refusal(charge, invoice=invoice_figures(charge.invoice))
        allowed = request.actor.may(MARK_REFUNDED_PERMISSION[via])
        context["problem"] = (
            (refusal.sentence if refusal else None) if allowed else rules.Refusal.PERMISSION_DENIED.sentence
        )
        context["withdrawn"] = selectors.charge_amounts_awaiting_approval(charge=charge)
    return render(request, "web/partials/charge_mark.html", context)
