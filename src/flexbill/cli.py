"""The `flexbill` console script: Django's management commands under one name."""

import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexbill.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")  # `flexbill stripe-refund` runs the stripe_refund command
    if args[:1] == ["demo"]:
        # The demo always runs on its own SQLite file, reset at every start (the local Stripe keeps no data).
        var = Path(os.environ.get("FLEXBILL_VAR_DIR", Path.cwd() / "var"))
        var.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{var.resolve() / 'demo.sqlite3'}"
    elif args[:1] == ["stripe_refund"]:
        _use_running_demo()
    from django.core.exceptions import ImproperlyConfigured

    try:
        execute_from_command_line(["flexbill", *args])
    except ImproperlyConfigured as exc:
        # A configuration mistake (a missing or malformed FLEXBILL_ENCRYPTION_KEYS…) reads as one sentence.
        sys.stderr.write(f"flexbill: {exc}\n")
        sys.exit(2)


def _use_running_demo() -> None:
    """`flexbill stripe-refund` beside a running demo finds its database and local Stripe in var/demo.env."""
    demo_env = Path(os.environ.get("FLEXBILL_VAR_DIR", Path.cwd() / "var")) / "demo.env"
    if "FLEXBILL_STRIPE_API_BASE" in os.environ or not demo_env.exists():
        return
    for line in demo_env.read_text().splitlines():
        name, _, value = line.partition("=")
        if name in ("FLEXBILL_STRIPE_API_BASE", "DATABASE_URL"):
            os.environ[name] = value


if __name__ == "__main__":
    main()
