from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand


class Command(MigrateCommand):
    """`flexbill migrate`: Django's migrate, then the cache table shared by every process."""

    def handle(self, *args, **options):
        super().handle(*args, **options)
        call_command("createcachetable", database=options["database"], verbosity=options["verbosity"])
