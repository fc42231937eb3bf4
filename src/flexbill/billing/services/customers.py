from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from flexbill.accounts.models import Organization
from flexbill.audit.services import Actor, audit_record
from flexbill.errors import InvalidInput, StripeFailed
from flexbill.stripe_gateway.client import gateway_for
from flexbill.stripe_gateway.types import StripeGatewayError, StripeRejected

from ..models import Customer, PaymentMethod


def customer_create(*, organization: Organization, name: str, email: str, actor: Actor) -> Customer:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("A customer needs a name of at most 200 characters.", code="name_invalid")
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput(f"{email!r} is not a valid email address.", code="email_invalid") from exc
    stripe_customer_id = None
    if organization.stripe_secret_key:
        try:
            stripe_customer_id = gateway_for(organization).customer_create(
                name=name, email=email, metadata={"flexbill_organization": organization.slug}
            )
        except StripeGatewayError as exc:
            raise StripeFailed(f"Stripe could not create the customer: {exc.message}") from exc
    with transaction.atomic():
        customer = Customer.objects.create(
            organization=organization, name=name, email=email.lower(), stripe_customer_id=stripe_customer_id
        )
        audit_record(
            organization_id=organization.pk,
            actor=actor,
            action="customer.created",
            obj=customer,
            after={"name": name, "email": customer.email, "stripe_customer_id": stripe_customer_id},
        )
    return customer


def payment_method_add(*, customer: Customer, stripe_payment_method: str, actor: Actor) -> PaymentMethod:
    """Attach a Stripe payment method (pm_…) to the customer in Stripe and keep it for charging."""
    stripe_payment_method = (stripe_payment_method or "").strip()
    if not stripe_payment_method.startswith("pm_") or len(stripe_payment_method) > 255:
        raise InvalidInput(
            "stripe_payment_method must be a Stripe PaymentMethod id (pm_…).", code="payment_method_invalid"
        )
    if not customer.stripe_customer_id:
        raise InvalidInput(
            "This customer has no Stripe customer; the organization has no Stripe key.", code="no_stripe"
        )
    try:
        info = gateway_for(customer.organization).payment_method_attach(
            payment_method_id=stripe_payment_method, customer_id=customer.stripe_customer_id
        )
    except StripeRejected as exc:
        # Stripe answered: the id names no payment method it can attach (the caller's input), not an outage.
        raise InvalidInput(f"Stripe refused the payment method: {exc.message}", code="payment_method_invalid") from exc
    except StripeGatewayError as exc:
        raise StripeFailed(f"Stripe could not attach the payment method: {exc.message}") from exc
    taken = PaymentMethod.objects.filter(stripe_payment_method_id=info.id).exclude(customer=customer).exists()
    if taken:
        raise InvalidInput("This payment method belongs to another customer.", code="payment_method_invalid")
    with transaction.atomic():
        method, _ = PaymentMethod.objects.update_or_create(
            stripe_payment_method_id=info.id,
            defaults={
                "organization": customer.organization,
                "customer": customer,
                "type": info.type,
                "brand": info.brand,
                "bank_name": info.bank_name[:100],
                "last4": info.last4,
            },
        )
        audit_record(
            organization_id=customer.organization_id,
            actor=actor,
            action="payment_method.added",
            obj=method,
            after={
                "customer": customer.pk,
                "type": info.type,
                "brand": info.brand,
                "bank_name": method.bank_name,
                "last4": info.last4,
            },
        )
    return method
