from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flexbill.accounts.selectors import organization_get
from flexbill.billing.services.reconcile import reconcile_organization
from flexbill.errors import FlexbillError
from flexbill.stripe_gateway.types import StripeGatewayError


class Command(BaseCommand):
    help = (
        "Settle refunds that webhooks missed: pages through every refund of the organization in Stripe and applies "
        "each page as one batch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args, org, **options):
        try:
            organization = organization_get(slug=org)
        except FlexbillError as exc:
            raise CommandError(exc.detail) from exc
        if not organization.refund_sync_enabled:
            raise CommandError(f"Refund sync is turned off for {org}; platform staff can turn it on.")
        console = Console(file=self.stdout._out)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            tasks = {}

            def report_progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            try:
                report = reconcile_organization(organization, progress=report_progress)
            except StripeGatewayError as exc:
                raise CommandError(f"Stripe could not be read: {exc.message}") from exc
        table = Table(title=f"Reconcile {org}", show_header=False)
        for label, value in (
            ("Refunds read from Stripe", report.stripe_refunds_seen),
            ("Pages applied", report.pages),
            ("Charges checked", report.charges_checked),
            ("Refunds recorded (made in Stripe)", report.refunds_created),
            ("Refunds updated", report.refunds_updated),
            ("Requested refunds settled or released", report.requested_settled),
            ("Pending payments settled (SEPA/ACH)", report.payments_settled),
            ("Refunds of charges unknown to flexbill", report.unknown_charges),
        ):
            table.add_row(label, str(value))
        console.print(table)
        console.print(f"{report.changed} change(s)." if report.changed else "Nothing to change: in sync with Stripe.")
        if report.errors:
            for error in report.errors:
                console.print(f"[red]error[/] {error}")
            raise CommandError(f"{len(report.errors)} item(s) could not be reconciled.")
