"""The worker's periodic reconcile is queued once per organization per interval however many workers run: each
worker looks every interval, and only the one that takes an organization's turn queues its reconcile (Stripe reads
and rate limit are spent once). A reconcile asked for by a person runs at once, whatever the schedule says."""

import io
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flexbill.billing.tasks import enqueue_reconcile_all, reconcile_organization_task
from flexbill_demo.stripe_dashboard import stripe_refund_directly
from threads import run_together

INTERVAL = 300


@pytest.fixture
def database_tasks(settings):
    """Queued tasks are rows, as with a real worker, instead of running at once."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.FLEXBILL_RECONCILE_INTERVAL = INTERVAL


def queued() -> Counter:
    """How many reconciles are queued for each organization id."""
    rows = DBTaskResult.objects.filter(task_path=reconcile_organization_task.module_path)
    return Counter(row.args_kwargs["args"][0] for row in rows)


@pytest.mark.nostripe
@pytest.mark.django_db
def test_two_workers_looking_in_turn_queue_each_organizations_reconcile_once_per_interval(database_tasks, make_org):
    first, second = make_org(), make_org()
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert enqueue_reconcile_all() == 2  # the first worker to look
        assert enqueue_reconcile_all() == 0  # another worker, the same moment
    with time_machine.travel(start + timedelta(seconds=INTERVAL - 1), tick=False):
        assert enqueue_reconcile_all() == 0  # within the interval
    assert queued() == {first.pk: 1, second.pk: 1}

    with time_machine.travel(start + timedelta(seconds=INTERVAL), tick=False):
        assert enqueue_reconcile_all() == 2  # the interval has passed: due again
        assert enqueue_reconcile_all() == 0
    assert queued() == {first.pk: 2, second.pk: 2}


@pytest.mark.nostripe
@pytest.mark.django_db
def test_the_interval_a_worker_runs_with_decides_when_the_next_turn_comes(database_tasks, org):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert enqueue_reconcile_all(interval=60) == 1
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert enqueue_reconcile_all(interval=60) == 0
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        assert enqueue_reconcile_all(interval=60) == 1
    assert queued() == {org.pk: 2}


@pytest.mark.nostripe
@pytest.mark.django_db
def test_an_organization_with_sync_off_or_no_stripe_key_is_never_queued(database_tasks, make_org):
    synced = make_org()
    sync_off = make_org()
    sync_off.refund_sync_enabled = False
    sync_off.save(update_fields=["refund_sync_enabled"])
    make_org(stripe_secret_key="")
    start = timezone.now()

    for days in range(3):
        with time_machine.travel(start + timedelta(days=days), tick=False):
            assert enqueue_reconcile_all() == 1

    assert queued() == {synced.pk: 3}


@pytest.mark.nostripe
@pytest.mark.django_db(transaction=True)
def test_workers_looking_at_the_same_moment_queue_each_organizations_reconcile_once(database_tasks, make_org):
    organizations = [make_org() for _ in range(3)]

    results = run_together(enqueue_reconcile_all)

    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 3
    assert queued() == {o.pk: 1 for o in organizations}


@pytest.mark.django_db
def test_a_reconcile_asked_for_on_the_command_line_runs_at_once_whatever_the_schedule(org, paid_charge, database_tasks):
    assert enqueue_reconcile_all() == 1  # the organization's periodic turn is taken for the next interval
    stripe_refund_directly(org, charge_id=paid_charge.stripe_charge_id, amount=1500)
    out = io.StringIO()

    call_command("reconcile", org=org.slug, stdout=out)

    assert "1 change(s)." in out.getvalue()
    paid_charge.refresh_from_db()
    assert paid_charge.amount_refunded == 1500
