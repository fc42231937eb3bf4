import stripe
from django.core.management.base import BaseCommand, CommandError

from flexbill.accounts.selectors import organization_get
from flexbill.billing.models import Charge
from flexbill.cli_arguments import CHARGE_ID, charge_reference, minor_units
from flexbill.errors import FlexbillError
from flexbill_demo.stripe_dashboard import stripe_refund_directly


class Command(BaseCommand):
    help = "Development: refund a charge directly in Stripe (as in Stripe's dashboard), bypassing flexbill."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument(
            "--charge", required=True, type=charge_reference, help="flexbill charge id or Stripe charge id (ch_…)"
        )
        parser.add_argument(
            "--amount", type=minor_units, help="minor units (1250 for 12.50); default: the whole charge"
        )

    def handle(self, *args, org, charge, amount, **options):
        try:
            organization = organization_get(slug=org)
        except FlexbillError as exc:
            raise CommandError(exc.detail) from exc
        stripe_charge_id = charge
        if CHARGE_ID.fullmatch(charge):
            local = Charge.objects.filter(organization=organization, pk=int(charge)).first()
            if local is None or not local.stripe_charge_id:
                raise CommandError(f"Charge {charge} has no Stripe charge in {org}.")
            stripe_charge_id = local.stripe_charge_id
        try:
            refund_id = stripe_refund_directly(organization, charge_id=stripe_charge_id, amount=amount)
        except stripe.StripeError as exc:
            raise CommandError(f"Stripe refused the refund: {exc.user_message or exc}") from exc
        self.stdout.write(refund_id)
