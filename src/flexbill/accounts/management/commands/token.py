from flexbill.accounts.selectors import membership_get, organization_get
from flexbill.accounts.services import api_token_create

from ._base import SubcommandCommand


class Command(SubcommandCommand):
    help = "Manage API tokens: flexbill token create --org SLUG --email EMAIL (prints the token alone)"

    def add_subcommands(self, subparsers):
        create = subparsers.add_parser("create", help="create an API token; it is shown only once")
        create.add_argument("--org", required=True)
        create.add_argument("--email", required=True)

    def handle_create(self, *, org, email, **_):
        membership = membership_get(organization=organization_get(slug=org), email=email)
        self.stdout.write(api_token_create(membership=membership))
