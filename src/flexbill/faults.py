"""Fault injection for crash-recovery tests. Inert unless FLEXBILL_FAULT_INJECTION is on (test settings only)."""

import os
import signal
from collections import Counter

from django.conf import settings

_hits: Counter = Counter()


def fault_point(name: str) -> None:
    """Kill this process at the point named by FLEXBILL_FAULT_KILL_AT, on its FLEXBILL_FAULT_KILL_ON_HIT-th pass
    (default the first): a crash in the middle of a run, not only at its start."""
    if settings.FLEXBILL_FAULT_INJECTION and os.environ.get("FLEXBILL_FAULT_KILL_AT") == name:
        _hits[name] += 1
        if _hits[name] >= int(os.environ.get("FLEXBILL_FAULT_KILL_ON_HIT", "1")):
            os.kill(os.getpid(), signal.SIGKILL)
