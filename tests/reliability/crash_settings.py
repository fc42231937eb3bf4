"""Test-only settings: flexbill's own, plus the crash injection of crash_points (see there)."""

from flexbill.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "crash_points.CrashPointsConfig"]  # noqa: F405
