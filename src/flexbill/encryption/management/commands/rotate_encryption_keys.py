from django.core.management.base import BaseCommand, CommandError

from flexbill.encryption.keys import SETTING, SecretUndecryptable
from flexbill.encryption.rotation import BATCH_SIZE, encryption_keys_rotate


class Command(BaseCommand):
    help = (
        f"Re-encrypt every stored secret (Stripe keys, webhook signing secrets) with the first key of {SETTING}. "
        "Put the new key first and keep the old ones after it until this has run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="rows read and locked at a time")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            report = encryption_keys_rotate(batch_size=batch_size)
        except SecretUndecryptable as exc:
            raise CommandError(f"{exc} Nothing was rotated.") from exc
        details = ", ".join(f"{label}: {rotated} of {checked}" for label, (rotated, checked) in report.by_model.items())
        self.stdout.write(
            f"Rotated {report.rows_rotated} of {report.rows_checked} rows to the first key of {SETTING} ({details})."
        )
