"""The production package ships and installs only what production uses: `pip install flexbill` in a fresh venv
brings no demo code, no local Stripe (localstripe) and no aiohttp, and `flexbill --help` lists no demo command;
`flexbill[demo]` (the flexbill-demo distribution built from demo/) adds them."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = [pytest.mark.slow, pytest.mark.nostripe]

ROOT = Path(__file__).resolve().parents[2]
DEMO_ONLY_DISTRIBUTIONS = {"flexbill-demo", "localstripe", "aiohttp"}
DEMO_COMMANDS = {"demo", "stripe_refund"}


def run(*command, **kwargs) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **kwargs)  # noqa: S603
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    """Both wheels, built from a copy of the sources (a build/ left in the checkout could add stale files)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheels")
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("src", "demo"):
        shutil.copytree(ROOT / name, source / name, ignore=junk)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(source), str(source / "demo"))
    found = {path.name.split("-")[0]: path for path in out.glob("*.whl")}
    assert set(found) == {"flexbill", "flexbill_demo"}, found
    return found


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheels) -> Path:
    """A new venv with `pip install flexbill` (the wheel just built, with the pinned versions)."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", str(venv))
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, "-c", str(ROOT / "constraints.txt"), str(wheels["flexbill"]))
    return venv


def installed(venv: Path) -> set[str]:
    listing = run(str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    return {item["name"].lower().replace("_", "-") for item in json.loads(listing)}


def commands(venv: Path, tmp_path: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLEXBILL_", "DJANGO_")) and k != "DATABASE_URL"}
    env["FLEXBILL_VAR_DIR"] = str(tmp_path)
    shown = run(str(venv / "bin" / "flexbill"), "--help", env=env, cwd=tmp_path)
    return {line.strip() for line in shown.splitlines() if line.startswith("    ")}


def test_the_production_wheel_holds_only_the_flexbill_package_and_needs_nothing_of_the_demo(wheels):
    with zipfile.ZipFile(wheels["flexbill"]) as wheel:
        names = wheel.namelist()
        metadata = Parser().parsestr(wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"flexbill"}
    shipped = "\n".join(names)
    for demo_only in ("localstripe", "demo_seed", "webhook_receiver", "devtools", "stripe_refund", "faults"):
        assert demo_only not in shipped
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    always = {r.name.lower() for r in requirements if r.marker is None}
    assert "django" in always and not always & DEMO_ONLY_DISTRIBUTIONS
    assert 'flexbill-demo==0.1.0; extra == "demo"' in metadata.get_all("Requires-Dist")


def test_pip_install_flexbill_in_a_fresh_venv_installs_no_local_stripe_and_lists_no_demo_command(fresh_venv, tmp_path):
    assert "flexbill" in installed(fresh_venv)
    assert not installed(fresh_venv) & DEMO_ONLY_DISTRIBUTIONS
    shown = commands(fresh_venv, tmp_path)
    assert {"serve", "worker", "reconcile", "migrate"} <= shown
    assert not shown & DEMO_COMMANDS


def test_the_demo_extra_adds_the_demo_commands_and_the_local_stripe(fresh_venv, wheels, tmp_path):
    pip = [str(fresh_venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    extra = f"flexbill[demo] @ {wheels['flexbill'].as_uri()}"
    run(*pip, "-c", str(ROOT / "constraints.txt"), extra, str(wheels["flexbill_demo"]))
    assert installed(fresh_venv) >= DEMO_ONLY_DISTRIBUTIONS
    assert commands(fresh_venv, tmp_path) >= DEMO_COMMANDS
