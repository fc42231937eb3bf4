"""What `flexbill demo` and `flexbill stripe-refund` set up before flexbill's settings load (entry points of the
group flexbill.before_command, run by flexbill.cli)."""

import os
from pathlib import Path


def var_dir() -> Path:
    return Path(os.environ.get("FLEXBILL_VAR_DIR", Path.cwd() / "var"))


def before_demo() -> None:
    """The demo always runs on its own SQLite file, reset at every start (the local Stripe keeps no data). It turns
    the local-Stripe workarounds on itself, with the address of the local Stripe it starts."""
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{var.resolve() / 'demo.sqlite3'}"


def before_stripe_refund() -> None:
    """`flexbill stripe-refund` beside a running demo finds its database and local Stripe in var/demo.env."""
    demo_env = var_dir() / "demo.env"
    if "FLEXBILL_STRIPE_API_BASE" in os.environ or not demo_env.exists():
        return
    for line in demo_env.read_text().splitlines():
        name, _, value = line.partition("=")
        if name in ("FLEXBILL_STRIPE_API_BASE", "FLEXBILL_LOCAL_STRIPE_WORKAROUNDS", "DATABASE_URL"):
            os.environ[name] = value
