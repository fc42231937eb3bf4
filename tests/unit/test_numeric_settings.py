"""Every number flexbill reads from its environment is ASCII digits in range, or flexbill stops with one sentence
naming the variable (exit 2): a typo must neither start flexbill with another value nor end in a traceback."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from flexbill import settings

pytestmark = pytest.mark.nostripe

SETTINGS_SOURCE = Path(settings.__file__).read_text()
NUMERIC = sorted(set(re.findall(r'_env_number\(\s*"(\w+)"', SETTINGS_SOURCE)))


def test_every_number_in_the_settings_is_read_through_the_one_checked_reader():
    assert len(NUMERIC) >= 25
    assert not re.search(r"\b(int|float)\(os\.environ", SETTINGS_SOURCE)


@pytest.mark.parametrize("raw", ["abc", "", " 12 ", "٣", "１２", "1e3", "-1", "0x10", "12,5", "1_000"])
def test_a_whole_number_is_ascii_digits_only(monkeypatch, raw):
    monkeypatch.setenv("FLEXBILL_SOME_COUNT", raw)
    if raw.strip() in ("", "12"):
        assert settings._env_number("FLEXBILL_SOME_COUNT", 5) == (12 if raw.strip() else 5)
        return
    with pytest.raises(ImproperlyConfigured, match=r"^FLEXBILL_SOME_COUNT must be a whole number of at least 0, not"):
        settings._env_number("FLEXBILL_SOME_COUNT", 5)


@pytest.mark.parametrize(("raw", "expected"), [("0.25", 0.25), ("3", 3.0), ("٠.٥", None), ("1,5", None), ("nan", None)])
def test_a_number_with_a_fraction_takes_a_dot_and_ascii_digits(monkeypatch, raw, expected):
    monkeypatch.setenv("FLEXBILL_SOME_SECONDS", raw)
    if expected is None:
        with pytest.raises(ImproperlyConfigured, match="FLEXBILL_SOME_SECONDS must be a number"):
            settings._env_number("FLEXBILL_SOME_SECONDS", 1, whole=False)
    else:
        assert settings._env_number("FLEXBILL_SOME_SECONDS", 1, whole=False) == expected


def test_a_number_out_of_its_range_is_refused(monkeypatch):
    monkeypatch.setenv("FLEXBILL_EMAIL_PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="FLEXBILL_EMAIL_PORT must be a whole number from 1 to 65535"):
        settings._env_number("FLEXBILL_EMAIL_PORT", 587, low=1, high=65535)


@pytest.mark.parametrize(
    "name", ["FLEXBILL_INBOX_BATCH_SIZE", "FLEXBILL_TRUSTED_PROXY_COUNT", "FLEXBILL_INVITATION_DAYS"]
)
def test_the_command_line_names_a_malformed_number_and_exits_2(name, tmp_path):
    env = {**os.environ, name: "twelve", "DJANGO_SETTINGS_MODULE": "flexbill.settings"}
    done = subprocess.run(
        [sys.executable, "-m", "flexbill.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"flexbill: {name} must be a whole number"), done.stderr
    assert "'twelve'" in lines[0]
