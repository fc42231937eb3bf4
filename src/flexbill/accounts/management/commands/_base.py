from django.core.management.base import BaseCommand, CommandError

from flexbill.errors import FlexbillError


class SubcommandCommand(BaseCommand):
    """`flexbill NOUN VERB --options`: one management command per noun, a subparser per verb."""

    def add_subcommands(self, subparsers) -> None:
        raise NotImplementedError

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        self.add_subcommands(subparsers)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"handle_{action}")(**options)
        except FlexbillError as exc:
            raise CommandError(exc.detail) from exc
