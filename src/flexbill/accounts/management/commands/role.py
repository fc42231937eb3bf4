from flexbill.accounts.selectors import organization_get
from flexbill.accounts.services import custom_role_create

from ._base import SubcommandCommand


class Command(SubcommandCommand):
    help = "Manage custom roles: flexbill role create --org SLUG --name NAME --permission PERM [--permission PERM ...]"

    def add_subcommands(self, subparsers):
        create = subparsers.add_parser("create", help="create a custom role")
        create.add_argument("--org", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--permission", action="append", required=True, dest="permissions")

    def handle_create(self, *, org, name, permissions, **_):
        role = custom_role_create(organization=organization_get(slug=org), name=name, permissions=permissions)
        self.stdout.write(f"Created role {role.name!r} in {org}: {', '.join(role.permissions)}.")
