from flexbill.accounts.selectors import organization_get
from flexbill.accounts.services import user_create

from ._base import SubcommandCommand


class Command(SubcommandCommand):
    help = (
        "Manage users: flexbill user create --org SLUG --email EMAIL --password PW "
        "--role owner|admin|member|custom:NAME"
    )

    def add_subcommands(self, subparsers):
        create = subparsers.add_parser("create", help="create a user in an organization")
        create.add_argument("--org", required=True)
        create.add_argument("--email", required=True)
        create.add_argument("--password", required=True)
        create.add_argument("--role", required=True)

    def handle_create(self, *, org, email, password, role, **_):
        membership = user_create(organization=organization_get(slug=org), email=email, password=password, role=role)
        self.stdout.write(f"Created {membership.user.email} in {org} as {membership.role_label}.")
