"""Seed the demo organization through the real services and the local Stripe."""

import random
from datetime import timedelta

from django.utils import timezone

from flexbill.accounts.models import Organization
from flexbill.accounts.permissions import Permission
from flexbill.accounts.preferences import organization_preferences_update
from flexbill.accounts.services import custom_role_create, organization_create, user_create
from flexbill.audit.services import SYSTEM, Actor
from flexbill.billing import services
from flexbill.billing.models import Charge
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.choices import ChargeSource, ChargeStatus, InvoicePaymentMethod, RefundReason, Role
from flexbill_demo.stripe_dashboard import stripe_payment_method_create, stripe_refund_directly

DEMO_PASSWORD = "flexbill-demo"
DEMO_WEBHOOK_SECRET = "whsec_demo_flexbill"

MEMBERS = [
    ("Ada Lovelace", "ada@analytical.example"),
    ("Grace Hopper", "grace@cobol.example"),
    ("Northwind Studio", "billing@northwind.example"),
    ("Blue Harbour Ltd", "accounts@blueharbour.example"),
    ("Linus Berg", "linus@berg.example"),
    ("Margaret Hamilton", "margaret@apollo.example"),
    ("Kepler & Sons", "finance@kepler.example"),
    ("Tessa Ruiz", "tessa@ruiz.example"),
    ("Oak Street Collective", "hello@oakstreet.example"),
    ("Yuki Tanaka", "yuki@tanaka.example"),
]
PLANS = [
    ("Hot desk — monthly", 25000),
    ("Dedicated desk — monthly", 42000),
    ("Private office (4 seats)", 180000),
    ("Meeting room — 10 hours", 9000),
    ("Day passes ×10", 15000),
    ("Mail handling", 3500),
]


def seed_demo(*, console) -> Organization:
    from rich.progress import Progress

    rng = random.Random(7)  # noqa: S311 - the same demo every time, not security
    org = organization_create(
        slug="demo",
        name="Harbour Coworking",
        stripe_secret_key="sk_test_flexbill_demo",
        stripe_webhook_secret=DEMO_WEBHOOK_SECRET,
        currency="eur",
        locale="de_DE",  # a euro operator whose staff type amounts as 1.234,50
    )
    clerk_role = custom_role_create(organization=org, name="Billing clerk", permissions=[Permission.CHARGES_REFUND])
    owner = user_create(
        organization=org, email="owner@demo.flexbill.test", password=DEMO_PASSWORD, role=Role.OWNER, name="Olivia Owner"
    )
    user_create(
        organization=org, email="admin@demo.flexbill.test", password=DEMO_PASSWORD, role=Role.ADMIN, name="Adam Admin"
    )
    clerk = user_create(
        organization=org,
        email="clerk@demo.flexbill.test",
        password=DEMO_PASSWORD,
        role=f"custom:{clerk_role.name}",
        name="Clara Clerk",
    )
    user_create(
        organization=org,
        email="frontdesk@demo.flexbill.test",
        password=DEMO_PASSWORD,
        role=Role.MEMBER,
        name="Front desk",
    )

    plan = _invoice_plan(rng)
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task(
            "Seeding customers and invoices through the local Stripe", total=len(MEMBERS) + len(plan)
        )
        customers = []
        for name, email in MEMBERS:
            customer = services.customer_create(organization=org, name=name, email=email, actor=SYSTEM)
            card = services.payment_method_add(customer=customer, stripe_payment_method="pm_card_visa", actor=SYSTEM)
            customers.append((customer, card))
            progress.advance(task)
        for i, (kind, lines) in enumerate(plan):
            customer, card = customers[i % len(customers)]
            _seed_invoice(org, customer, card, kind, lines, days_ago=rng.randint(0, 60))
            progress.advance(task)
    _seed_approval(org, owner=owner, clerk=clerk)
    return org


APPROVAL_THRESHOLD = 50000  # 500,00 €


def _seed_approval(org, *, owner, clerk) -> None:
    """Approvals on from 500,00 €, and the clerk's refund of the largest untouched card charge waiting in the queue
    (Approvals page) for the owner or the admin."""
    largest = (
        Charge.objects.filter(
            organization=org,
            source=ChargeSource.STRIPE,
            payment_status=ChargeStatus.SUCCESS,
            payment_method_type="card",
        )
        .filter(amount_reserved=0, marked_refunded_at__isnull=True)
        .order_by("-amount", "pk")
        .first()
    )
    threshold = min(APPROVAL_THRESHOLD, largest.amount)
    organization_preferences_update(actor=Actor.for_membership(owner), refund_approval_threshold=threshold)
    services.refund_create(
        actor=Actor.for_membership(clerk),
        charge=largest,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
        note="Member moved out early; refund the whole month.",
    )


def _invoice_plan(rng: random.Random) -> list[tuple[str, list]]:
    kinds = (
        ["card"] * 14
        + ["card_partial_refund", "card_refunded", "two_charges"]
        + ["sepa"] * 4
        + ["sepa_old", "sepa_pending", "ach_pending", "declined", "declined"]
        + ["xero", "quickbooks", "xero", "awaiting"]
    )
    plan = []
    for kind in kinds:
        lines = rng.sample(PLANS, k=rng.randint(1, 3))
        plan.append((kind, [{"description": d, "amount": a} for d, a in lines]))
    return plan


def _seed_invoice(org, customer, card, kind, lines, days_ago):
    method = {
        "sepa": InvoicePaymentMethod.STRIPE_SEPA,
        "sepa_old": InvoicePaymentMethod.STRIPE_SEPA,
        "sepa_pending": InvoicePaymentMethod.STRIPE_SEPA,
        "ach_pending": InvoicePaymentMethod.STRIPE_ACH,
        "xero": InvoicePaymentMethod.BANK_TRANSFER,
        "quickbooks": InvoicePaymentMethod.BANK_TRANSFER,
        "awaiting": InvoicePaymentMethod.BANK_TRANSFER,
    }.get(kind, InvoicePaymentMethod.STRIPE_CARD)
    invoice = services.invoice_create(
        organization=org,
        customer=customer,
        currency="eur",
        payment_method=method,
        lines=lines,
        actor=SYSTEM,
        issued_on=timezone.localdate() - timedelta(days=200 if kind == "sepa_old" else days_ago),
    )
    if kind in ("card", "card_partial_refund", "card_refunded"):
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)
        if kind != "card":
            amount = charge.amount // 4 if kind == "card_partial_refund" else charge.amount
            _refund_in_stripe(org, charge, amount)
    elif kind == "two_charges":
        first = invoice.total // 2
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, amount=first, actor=SYSTEM)
        invoice.refresh_from_db()
        services.charge_create_stripe(invoice=invoice, payment_method_id=card.pk, actor=SYSTEM)
    elif kind in ("sepa", "sepa_old", "sepa_pending"):
        iban = "DE62370400440532013001" if kind == "sepa_pending" else "DE89370400440532013000"
        pm_id = stripe_payment_method_create(org, iban=iban, name=customer.name, email=customer.email)
        sepa = services.payment_method_add(customer=customer, stripe_payment_method=pm_id, actor=SYSTEM)
        charge = services.charge_create_stripe(invoice=invoice, payment_method_id=sepa.pk, actor=SYSTEM)
        if kind == "sepa_old":
            # A direct debit from 200 days ago: beyond the 180-day refund window, so flexbill refuses it.
            Charge.objects.filter(pk=charge.pk).update(charged_at=timezone.now() - timedelta(days=200))
    elif kind == "ach_pending":
        # The local Stripe has no ACH: an ACH debit still waiting for the bank, with no Stripe charge yet.
        Charge.objects.create(
            organization=org,
            invoice=invoice,
            amount=invoice.total,
            currency=invoice.currency,
            source=ChargeSource.STRIPE,
            payment_status=ChargeStatus.PENDING,
            status=ChargeStatus.PENDING,
            payment_method_type="us_bank_account",
            charged_at=timezone.now(),
        )
    elif kind == "declined":
        declining = services.payment_method_add(
            customer=customer, stripe_payment_method="pm_card_chargeCustomerFail", actor=SYSTEM
        )
        services.charge_create_stripe(invoice=invoice, payment_method_id=declining.pk, actor=SYSTEM)
    elif kind in (ChargeSource.XERO, ChargeSource.QUICKBOOKS):
        services.charge_record(
            invoice=invoice,
            source=kind,
            amount=invoice.total,
            reference=f"{kind.upper()}-{invoice.pk:05d}",
            actor=SYSTEM,
        )
    # "awaiting": left unpaid


def _refund_in_stripe(org, charge, amount):
    """Refunds made directly in Stripe before flexbill saw them; reconcile brings them in."""
    stripe_refund_directly(org, charge_id=charge.stripe_charge_id, amount=amount)
    reconcile_organization(org)
