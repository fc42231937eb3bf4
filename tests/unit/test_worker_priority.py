"""`flexbill worker` yields the CPU to `flexbill serve` on the same machine: acknowledging Stripe cannot wait,
applying the inbox can (docs/operations.md)."""

import pytest
from django.core.management import CommandError, call_command

from flexbill.ops.management.commands import worker

pytestmark = pytest.mark.nostripe


def test_the_worker_lowers_its_own_priority_by_the_setting_before_it_runs_anything(monkeypatch, settings):
    lowered, ran = [], []
    monkeypatch.setattr(worker.os, "nice", lambda n: lowered.append((n, list(ran))))
    monkeypatch.setattr(worker, "call_command", lambda *a, **k: ran.append("tasks"))
    monkeypatch.setattr(worker.Command, "_every", lambda self, *a, **k: ran.append("schedule"))

    call_command("worker", nice=7, reconcile_interval=0)

    assert lowered == [(7, [])]  # before any task or schedule started
    assert ran[-1] == "tasks"


@pytest.mark.parametrize("value", ["20", "-1", "٣", "１", " 5", "1_0", "high"])
def test_a_priority_outside_0_to_19_is_refused_with_a_clear_message(value):
    with pytest.raises(CommandError, match="--nice"):
        call_command("worker", "--nice", value)


@pytest.mark.parametrize("value", ["٠.٢", "nan", "inf", "1e3", "-1", "0,2"])
def test_intervals_are_seconds_typed_with_ascii_digits(value):
    with pytest.raises(CommandError, match="--poll-interval"):
        call_command("worker", "--poll-interval", value)
