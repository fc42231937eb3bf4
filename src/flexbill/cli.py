"""The `flexbill` console script: Django's management commands under one name."""

import os
import sys
from importlib.metadata import entry_points


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexbill.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")  # `flexbill stripe-refund` runs the stripe_refund command
        _before_command(args[0])
    from django.core.exceptions import ImproperlyConfigured

    try:
        execute_from_command_line(["flexbill", *args])
    except ImproperlyConfigured as exc:
        # A configuration mistake (a missing or malformed FLEXBILL_ENCRYPTION_KEYS…) reads as one sentence.
        sys.stderr.write(f"flexbill: {exc}\n")
        sys.exit(2)


def _before_command(command: str) -> None:
    """An installed add-on (the demo extra) may prepare the environment of its own commands before the settings
    load: entry points of the group flexbill.before_command, named after the command."""
    for entry in entry_points(group="flexbill.before_command", name=command):
        entry.load()()


if __name__ == "__main__":
    main()
