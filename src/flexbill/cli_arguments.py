"""Argument types for flexbill's commands.

Python's int() reads any Unicode digit ("١٢" and "１２" are 12), surrounding spaces and underscores ("1_000"), so
argparse's type=int lets a mistyped amount through as a different number. Amounts and ids given on the command line
are the digits 0-9 and nothing else.
"""

import argparse
import re

from flexbill.billing.rules import MAX_AMOUNT

ASCII_WHOLE_NUMBER = re.compile("[0-9]+")
ASCII_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")
CHARGE_ID = re.compile("[0-9]{1,18}")  # within a 64-bit primary key
STRIPE_ID = re.compile("[a-z]{2,5}_[A-Za-z0-9]+")


def minor_units(text: str) -> int:
    """--amount 1250: a whole number of minor units (cents), typed with the digits 0-9."""
    if not ASCII_WHOLE_NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount: give whole minor units with the digits 0-9 only, like 1250 for 12.50."
        )
    amount = int(text)
    if not 0 < amount <= MAX_AMOUNT:
        raise argparse.ArgumentTypeError(f"{text} is not an amount: give between 1 and {MAX_AMOUNT} minor units.")
    return amount


def charge_reference(text: str) -> str:
    """--charge 12 (flexbill's id, digits 0-9) or --charge ch_… (Stripe's id; py_… for some bank debits)."""
    if CHARGE_ID.fullmatch(text) or STRIPE_ID.fullmatch(text):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a charge: give flexbill's charge id with the digits 0-9, or a Stripe charge id (ch_…)."
    )


def whole_number(low: int, high: int):
    """An argument type: a whole number from low to high, typed with the digits 0-9."""

    def parse(text: str) -> int:
        if not ASCII_WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from {low} to {high}, digits 0-9 only.")
        return int(text)

    return parse


def seconds(text: str) -> float:
    """A number of seconds, like 0.2 or 300, typed with the digits 0-9 and a dot."""
    if not ASCII_SECONDS.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r}: give seconds with the digits 0-9 and a dot, like 0.2 or 300.")
    return float(text)
