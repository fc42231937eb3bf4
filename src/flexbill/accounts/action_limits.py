"""Fixed-window limits on what anonymous visitors can make flexbill do (password-reset e-mails).

Each key counts in one ActionCount row, changed by one conditional UPDATE per request, so requests arriving at
once never get past the limit, on SQLite and PostgreSQL alike and across processes."""

from datetime import datetime, timedelta

from django.db.models import Case, F, Q, Value, When

from .models import ActionCount

# Rows whose window ended longer ago than this decide nothing any more (longer than every window in use).
KEEP_FOR = timedelta(days=1)


def action_reserve(*, key: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
    """Count one action under `key`. None while the window's count stays within `limit`; otherwise the moment the
    window ends, when the key is allowed again (this request is not counted)."""
    try:
        return _reserve(key, limit, window, now)
    except ActionCount.DoesNotExist:  # pruned between creating and counting (ended windows only): count afresh
        return _reserve(key, limit, window, now)


def action_counts_prune(*, now: datetime) -> int:
    """Delete counts whose window ended long ago (the worker's housekeeping): anyone can make rows."""
    deleted, _ = ActionCount.objects.filter(window_started_at__lt=now - KEEP_FOR).delete()
    return deleted


def _reserve(key: str, limit: int, window: timedelta, now: datetime) -> datetime | None:
    ActionCount.objects.bulk_create(
        [ActionCount(key=key, count=0, window_started_at=now - window)],  # a new row's window has ended
        ignore_conflicts=True,
    )
    ended = Q(window_started_at__lte=now - window)
    counted = (
        ActionCount.objects.filter(key=key)
        .filter(ended | Q(count__lt=limit))
        .update(
            count=Case(When(ended, then=Value(1)), default=F("count") + 1),
            window_started_at=Case(When(ended, then=Value(now)), default=F("window_started_at")),
        )
    )
    if counted:
        return None
    return ActionCount.objects.values_list("window_started_at", flat=True).get(key=key) + window
