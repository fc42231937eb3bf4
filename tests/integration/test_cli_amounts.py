"""Amounts and charge ids on the command line are the digits 0-9: `flexbill stripe-refund --amount ١٢` is refused
with a message and a non-zero exit, where Python's int() would have refunded 12."""

import io
import os
import re
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from flexbill.accounts.models import Organization
from flexbill.stripe_gateway.client import gateway_for


def stripe_refund_amounts(charge) -> list[int]:
    return [r.amount for r in gateway_for(charge.organization).refunds_for_charge(charge.stripe_charge_id)]


def stripe_refund(org, charge: str, *more: str) -> str:
    out = io.StringIO()
    call_command("stripe_refund", f"--org={org.slug}", f"--charge={charge}", *more, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "amount",
    [
        "١٢",
        "１２",
        "۱۲",
        "12\u0663",
        "²",
        " 12",
        "1_000",
        "12.50",
        "12,50",
        "-5",
        "+5",
        "0",
        "1e3",
        "0x10",
        "",
        "1" * 14,
    ],
)
def test_stripe_refund_amount_other_than_whole_minor_units_in_digits_0_to_9_is_refused(org, paid_charge, amount):
    with pytest.raises(CommandError, match="is not an amount"):
        stripe_refund(org, str(paid_charge.pk), f"--amount={amount}")
    assert stripe_refund_amounts(paid_charge) == []


@pytest.mark.parametrize("charge", ["١", "１", " 1", "1_0", "-1", "9" * 19, "ch 1", ""])
def test_stripe_refund_charge_other_than_an_id_in_digits_0_to_9_or_a_stripe_id_is_refused(org, paid_charge, charge):
    with pytest.raises(CommandError, match="is not a charge"):
        stripe_refund(org, charge, "--amount=100")
    assert stripe_refund_amounts(paid_charge) == []


def test_stripe_refund_amount_in_minor_units_refunds_exactly_that_in_stripe(org, paid_charge):
    stripe_refund(org, str(paid_charge.pk), "--amount=1250")
    assert stripe_refund_amounts(paid_charge) == [1250]


def test_stripe_refund_with_arabic_indic_digits_exits_non_zero_with_a_message(tmp_path):
    env = {**os.environ, "FLEXBILL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    command = [sys.executable, "-m", "flexbill.cli", "stripe-refund", "--org", "demo", "--charge", "1"]

    done = subprocess.run([*command, "--amount", "١٢"], capture_output=True, text=True, env=env, timeout=60)

    assert done.returncode != 0
    assert "'١٢' is not an amount: give whole minor units with the digits 0-9 only" in done.stderr


def test_org_create_takes_the_locale_staff_type_amounts_in_and_refuses_one_babel_does_not_know(db):
    call_command(
        "org", "create", "--slug=berlin", "--name=Berlin", "--currency=eur", "--locale=de-DE", stdout=io.StringIO()
    )
    assert Organization.objects.get(slug="berlin").locale == "de_DE"

    with pytest.raises(CommandError, match="Unknown locale 'xx_QQ'"):
        call_command("org", "create", "--slug=nowhere", "--name=Nowhere", "--locale=xx_QQ", stdout=io.StringIO())
    assert not Organization.objects.filter(slug="nowhere").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--currency=xau", "'xau' is not a currency Stripe charges"),
        ("--currency=euro", "'euro' is not a currency Stripe charges"),
        ("--locale=und", "Unknown locale 'und'"),  # babel would have read it as en_US
        ("--locale=de_DE@euro", "Unknown locale 'de_DE@euro'"),
    ],
)
def test_org_create_refuses_the_currencies_and_locales_the_settings_page_refuses(db, option, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("org", "create", "--slug=nowhere", "--name=Nowhere", option, stdout=io.StringIO())
    assert not Organization.objects.filter(slug="nowhere").exists()
