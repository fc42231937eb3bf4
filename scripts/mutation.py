"""Mutation testing of flexbill's money core (run through scripts/mutate; see docs/mutation.md).

For each module named in pyproject.toml [tool.flexbill.mutation.modules], mutmut mutates that one file in a fresh
mutants/<module>/ and reruns, for each mutant, those of the module's tests that call the mutated function. Then
each known bug of [[tool.flexbill.mutation.known_bugs]] (one-line bugs mutmut does not generate: constants outside
functions, a wrong attribute) is written into a copy of src/ and the module's tests must fail on it.

Prints killed / survived / equivalent per module; exits 1 if a module's tests kill less than min_killed of its
non-equivalent mutants, or miss a known bug. Equivalent mutants are the table of docs/mutation.md.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DOC = ROOT / "docs" / "mutation.md"
# A row of the equivalents table: | `mutant name` | `text of the mutated line` | why it is equivalent |
EQUIVALENT_ROW = re.compile(r"^\|\s*`(?P<name>[\w.]+__mutmut_\d+)`\s*\|\s*`(?P<change>[^`]+)`\s*\|(?P<why>.+)\|\s*$")
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Equivalent:
    name: str
    change: str
    why: str


@dataclass
class Result:
    module: str
    statuses: dict[str, str]
    equivalent: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    wrongly_listed: list[str] = field(default_factory=list)
    bugs_missed: list[str] = field(default_factory=list)

    @property
    def killed(self) -> int:
        return sum(1 for s in self.statuses.values() if s in KILLED)

    @property
    def survivors(self) -> list[str]:
        return sorted(n for n, s in self.statuses.items() if s not in KILLED and n not in self.equivalent)

    @property
    def score(self) -> float:
        judged = len(self.statuses) - len(self.equivalent)
        return self.killed / judged if judged else 1.0


def load_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        data = tomllib.load(f)
    return data["tool"]


def load_equivalents() -> dict[str, Equivalent]:
    found = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = EQUIVALENT_ROW.match(line)
        if match:
            found[match["name"]] = Equivalent(match["name"], match["change"].strip(), match["why"].strip())
    return found


def toml_value(value) -> str:
    # Strings, lists of strings and booleans: their JSON spelling is valid TOML.
    return json.dumps(value)


def workspace_for(module: str, spec: dict, mutmut: dict) -> Path:
    """mutants/<module>/ with src and tests linked in, and pyproject.toml whose [tool.mutmut] names this module."""
    work = ROOT / "mutants" / module
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "src").symlink_to(ROOT / "src", target_is_directory=True)
    (work / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    settings = {
        **mutmut,
        "only_mutate": [spec["path"]],
        "pytest_add_cli_args_test_selection": spec["tests"],
        "pytest_add_cli_args": [*mutmut.get("pytest_add_cli_args", []), "--reuse-db"],
    }
    section = "[tool.mutmut]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in settings.items())
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"^\[tool\.mutmut\]\n.*?(?=^\[)", section + "\n", text, count=1, flags=re.S | re.M)
    (work / "pyproject.toml").write_text(text, encoding="utf-8")
    return work


def sqlite_env(work: Path) -> dict:
    """Mutants run on SQLite, each test run on its own copy of one database migrated here once (tests/conftest.py,
    FLEXBILL_TEST_SQLITE_TEMPLATE): migrating a fresh one would cost more than most mutants' tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FLEXBILL_TEST_SQLITE")}
    template = work / "template.sqlite3"
    subprocess.run(  # noqa: S603 - our own venv's flexbill, fixed arguments
        [str(VENV_BIN / "flexbill"), "migrate", "--noinput", "-v", "0"],
        cwd=work,
        env={**env, "DATABASE_URL": f"sqlite:///{template}"},
        check=True,
    )
    return {**env, "FLEXBILL_TEST_SQLITE_TEMPLATE": str(template)}


def run_mutmut(module: str, work: Path, max_children: str) -> None:
    log = work / "mutmut.log"
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
            [str(VENV_BIN / "mutmut"), "run", "--max-children", max_children],
            cwd=work,
            env=sqlite_env(work),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"{module}: mutmut failed (exit {done.returncode}); end of {log.relative_to(ROOT)}:\n{tail}")


def read_statuses(work: Path, spec: dict) -> dict[str, str]:
    from mutmut.stats import status_by_exit_code

    meta = json.loads((work / "mutants" / f"{spec['path']}.meta").read_text(encoding="utf-8"))
    return {name: status_by_exit_code[code] for name, code in meta["exit_code_by_key"].items()}


def mutant_diff(work: Path, name: str) -> str:
    shown = subprocess.run(  # noqa: S603 - our own venv's mutmut, fixed arguments
        [str(VENV_BIN / "mutmut"), "show", name], cwd=work, capture_output=True, text=True, check=False
    )
    return shown.stdout


def judge_equivalents(result: Result, work: Path, equivalents: dict[str, Equivalent]) -> None:
    for name, statement in equivalents.items():
        if name not in result.statuses:
            continue
        if result.statuses[name] in KILLED:
            result.wrongly_listed.append(name)
            continue
        diff = mutant_diff(work, name).splitlines()
        # The line the mutant writes, or for a dropped argument the line it removes.
        changed = [line[1:].strip() for line in diff if line.startswith(("+ ", "- ")) and not line.startswith("--- ")]
        if any(statement.change in line for line in changed):
            result.equivalent.append(name)
        else:
            result.stale.append(name)  # the code moved: this name is now another mutant, judge it afresh


def check_known_bugs(module: str, bugs: list[dict]) -> list[str]:
    """Write each known bug of `module` into a copy of src/; its tests must fail there. Returns those missed."""
    missed = []
    for bug in (b for b in bugs if b["module"] == module):
        with tempfile.TemporaryDirectory(prefix="flexbill-known-bug-") as tmp:
            src = Path(tmp) / "src"
            shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
            target = src / Path(bug["file"]).relative_to("src")
            text = target.read_text(encoding="utf-8")
            if text.count(bug["find"]) != 1:
                missed.append(f"{bug['name']}: its line is no longer in {bug['file']}; update known_bugs")
                continue
            target.write_text(text.replace(bug["find"], bug["replace"]), encoding="utf-8")
            env = {**os.environ, "PYTHONPATH": str(src)}
            done = subprocess.run(  # noqa: S603 - our own venv's pytest, fixed arguments
                [str(VENV_BIN / "pytest"), "-x", "-q", "-p", "no:cacheprovider", *bug["tests"]],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 1:  # 1: tests failed; 0: they passed; anything else: they could not run
                missed.append(f"{bug['name']}: the tests exited {done.returncode}, not 1 (a failing test)")
    return missed


def main(argv: list[str]) -> int:
    # --report: judge the results already in mutants/<module>/ (after rerunning some mutants there by hand with
    # `mutmut run NAME`), without a new run nor the known bugs.
    report_only = "--report" in argv
    argv = [a for a in argv if a != "--report"]
    tool = load_config()
    settings = tool["flexbill"]["mutation"]
    modules: dict = settings["modules"]
    wanted = argv or list(modules)
    unknown = [m for m in wanted if m not in modules]
    if unknown:
        print(f"Unknown module {', '.join(unknown)}; choose from {', '.join(modules)}.", file=sys.stderr)
        return 2
    equivalents = load_equivalents()
    max_children = os.environ.get("FLEXBILL_MUTATE_MAX_CHILDREN", "2")
    results = []
    for module in wanted:
        spec = modules[module]
        work = ROOT / "mutants" / module
        if not report_only:
            print(f"{module}: mutating {spec['path']} against {' '.join(spec['tests'])}", flush=True)
            work = workspace_for(module, spec, tool["mutmut"])
            run_mutmut(module, work, max_children)
        result = Result(module, read_statuses(work, spec))
        judge_equivalents(result, work, equivalents)
        if not report_only:
            result.bugs_missed = check_known_bugs(module, settings.get("known_bugs", []))
        results.append(result)
        report(result, settings["min_killed"])
    failed = [r.module for r in results if r.score < settings["min_killed"] or r.bugs_missed]
    print()
    print("module        mutants  killed  survived  equivalent  killed of non-equivalent")
    for r in results:
        survived = len(r.statuses) - r.killed - len(r.equivalent)
        print(
            f"{r.module:<13} {len(r.statuses):>7} {r.killed:>7} {survived:>9} {len(r.equivalent):>11}  {r.score:>7.1%}"
        )
    if failed:
        print(f"\nBelow {settings['min_killed']:.0%} or missing a known bug: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def report(result: Result, minimum: float) -> None:
    statuses = list(result.statuses.values())
    timeouts = statuses.count("timeout")
    print(
        f"{result.module}: killed {result.killed} / survived {len(result.survivors)} / equivalent "
        f"{len(result.equivalent)} of {len(statuses)} mutants ({timeouts} of the killed by timeout): "
        f"{result.score:.1%} of non-equivalent mutants killed (minimum {minimum:.0%})"
    )
    for name in result.survivors:
        print(
            f"    survived ({result.statuses[name]}): {name}"
            f"    (cd mutants/{result.module} && ../../.venv/bin/mutmut show {name})"
        )
    for name in result.stale:
        print(f"    listed as equivalent in docs/mutation.md but its change no longer matches: {name}")
    for name in result.wrongly_listed:
        print(f"    listed as equivalent in docs/mutation.md but the tests kill it; remove it: {name}")
    for missed in result.bugs_missed:
        print(f"    known bug not caught: {missed}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
