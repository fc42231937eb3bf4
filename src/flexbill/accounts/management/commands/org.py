from flexbill.accounts.services import organization_create

from ._base import SubcommandCommand


class Command(SubcommandCommand):
    help = (
        "Manage organizations: flexbill org create --slug SLUG --name NAME "
        "--stripe-secret-key SK --stripe-webhook-secret WHSEC"
    )

    def add_subcommands(self, subparsers):
        create = subparsers.add_parser("create", help="create an organization")
        create.add_argument("--slug", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--stripe-secret-key", default="")
        create.add_argument("--stripe-webhook-secret", default="")
        create.add_argument("--currency", default="usd")
        create.add_argument("--locale", default="en_US", help="how staff type amounts: en_US 1,234.50; de_DE 1.234,50")

    def handle_create(self, *, slug, name, stripe_secret_key, stripe_webhook_secret, currency, locale, **_):
        org = organization_create(
            slug=slug,
            name=name,
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secret=stripe_webhook_secret,
            currency=currency,
            locale=locale,
        )
        self.stdout.write(f"Created organization {org.slug} ({org.name}).")
