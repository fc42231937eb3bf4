"""Fault injection for crash-recovery tests. Inert unless FLEXBILL_FAULT_INJECTION is on (test settings only)."""

import os
import signal

from django.conf import settings


def fault_point(name: str) -> None:
    if settings.FLEXBILL_FAULT_INJECTION and os.environ.get("FLEXBILL_FAULT_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
