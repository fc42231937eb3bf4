"""Rows that anonymous traffic creates (sign-in and password-reset counts, rejected Stripe deliveries) are kept
only while they decide something, and finished background-task results only for their retention: the worker's
housekeeping removes the rest, so neither traffic nor the work it causes can grow the database without bound."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flexbill.accounts.models import ActionCount, SignInCount
from flexbill.billing.models import WebhookEvent
from flexbill.ops.housekeeping import housekeeping, task_results_prune
from stripe_events import post_raw

pytestmark = [pytest.mark.django_db, pytest.mark.nostripe]
PASSWORD = "correct-horse-battery"  # tests/conftest.py's


def sign_in(address: str, email: str, password: str):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": email, "password": password})


def test_an_anonymous_spray_of_sign_ins_leaves_no_rows_once_its_windows_have_passed(org):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for n in range(20):
            sign_in(f"203.0.113.{n}", f"nobody{n}@example.com", "guess")
            post_raw(Client(), f"guess-{n}", "{}", None)
            Client(REMOTE_ADDR=f"203.0.113.{n}").post("/password-reset/", {"email": f"nobody{n}@example.com"})
    assert SignInCount.objects.count() == 40 and WebhookEvent.objects.count() == 20
    assert ActionCount.objects.count() == 40  # a password-reset count per address and per account

    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        assert housekeeping()["sign_in_counts"] == 0  # still inside the windows: kept
    with time_machine.travel(start + timedelta(days=8), tick=False):
        pruned = housekeeping()
        assert pruned == {
            "rejected_webhook_deliveries": 20,
            "sign_in_counts": 40,
            "action_counts": 40,
            "outbox_events": 0,
            "task_results": 0,
            "refund_approvals_expired": 0,
        }

    assert not SignInCount.objects.exists() and not WebhookEvent.objects.exists()
    assert not ActionCount.objects.exists()


def test_housekeeping_keeps_what_still_decides_a_sign_in(org, owner):
    email = owner.user.email
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert sign_in("198.51.100.7", email, PASSWORD).status_code == 302  # a known address for 30 days
        for _ in range(5):
            sign_in("203.0.113.9", email, "wrong")  # this address is now refused for 15 minutes

    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        housekeeping()
        assert SignInCount.objects.filter(identity=email, address="203.0.113.9", failures=5).exists()
        assert "Try again" in sign_in("203.0.113.9", email, PASSWORD).content.decode()
    with time_machine.travel(start + timedelta(days=2), tick=False):
        housekeeping()
        assert list(SignInCount.objects.values_list("address", flat=True)) == ["198.51.100.7"]
    with time_machine.travel(start + timedelta(days=31), tick=False):
        housekeeping()
        assert not SignInCount.objects.exists()


def task_result(status: str, *, finished_days_ago: float | None = None, enqueued_days_ago: float = 0) -> DBTaskResult:
    """A row of the database task backend, as a worker leaves it (an inbox apply, an outbox dispatch, a reconcile)."""
    now = timezone.now()
    finished_at = None if finished_days_ago is None else now - timedelta(days=finished_days_ago)
    started_at = finished_at or (now - timedelta(days=enqueued_days_ago) if status == "RUNNING" else None)
    row = DBTaskResult.objects.create(
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        args_kwargs={"args": [], "kwargs": {}},
        task_path="flexbill.billing.tasks.apply_inbox_task",
        backend_name="default",
        run_after=now,
    )
    enqueued_at = now - timedelta(days=max(enqueued_days_ago, finished_days_ago or 0))
    DBTaskResult.objects.filter(pk=row.pk).update(enqueued_at=enqueued_at)  # auto_now_add on create
    return row


def test_housekeeping_deletes_finished_task_results_past_the_retention_and_keeps_the_rest(settings):
    assert settings.FLEXBILL_TASK_RESULT_RETENTION_DAYS == 7  # the default
    old_success = task_result("SUCCESSFUL", finished_days_ago=8)
    old_failure = task_result("FAILED", finished_days_ago=30)
    kept = [
        task_result("SUCCESSFUL", finished_days_ago=6),  # recent
        task_result("FAILED", finished_days_ago=1),
        task_result("READY", enqueued_days_ago=30),  # not run yet, however old
        task_result("RUNNING", enqueued_days_ago=30),  # a worker may be on it
    ]

    assert housekeeping()["task_results"] == 2

    assert not DBTaskResult.objects.filter(pk__in=[old_success.pk, old_failure.pk]).exists()
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert housekeeping()["task_results"] == 0


def test_task_results_are_kept_for_the_configured_retention_and_deleted_in_batches(settings):
    settings.FLEXBILL_TASK_RESULT_RETENTION_DAYS = 30
    recent = task_result("SUCCESSFUL", finished_days_ago=20)  # past the default, inside the configured retention
    for _ in range(5):
        task_result("SUCCESSFUL", finished_days_ago=31)

    assert task_results_prune(now=timezone.now(), batch_size=2) == 5  # 2 + 2 + 1

    assert list(DBTaskResult.objects.values_list("pk", flat=True)) == [recent.pk]
