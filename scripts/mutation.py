"""Mutation testing on demand (`make mutation`, not part of `make test`): mutmut over each
rules module of `domain/` against the unit tests, and over the views' folding against the
views' tests on SQLite — one module at a time, at low priority.

Each module is mutated in a copy of the working tree under `build/mutation/<module>/`
(mutmut reads its configuration from the copy's pyproject.toml), so that runs of
different modules never share state. The summary goes to stdout and to
`build/mutation/summary.json`; docs/mutation.md is the reviewed report.

    make mutation                                  # every target
    make mutation ARGS="domain/deadlines.py"       # one module
    make mutation ARGS="--survivors domain/decide.py"   # list what survived last time
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
MUTMUT = Path(sys.executable).parent / "mutmut"

#: the unit tests, less the two hypothesis searches (minutes per surviving mutant); the
#: seeded deep walk of test_deadline_properties still checks the clock invariants
UNIT = ["tests/unit", "-k", "not random_histories"]
#: the views' tests, on SQLite only (`postgres` marks the PostgreSQL side)
VIEWS = [
    "tests/integration/test_views.py",
    "tests/integration/test_suspension_views.py",
    "tests/integration/test_callback_rates.py",
    "tests/integration/test_rules_agree.py",
    "tests/integration/test_fold_views.py",
    # the previous release's log (events in their old shapes) folded by today's code
    "tests/integration/test_fixture_store.py::test_the_views_read_as_they_did_and_rebuild_the_same",
    "-m",
    "not postgres",
]
#: module -> the tests that must kill its mutants
TARGETS: dict[str, list[str]] = {
    "domain/decide.py": UNIT,
    "domain/workflow.py": UNIT,
    "domain/deadlines.py": UNIT,
    "domain/access.py": UNIT,
    "domain/rules.py": UNIT,
    "domain/commands.py": UNIT,
    "domain/callbacks.py": UNIT,
    "domain/tally.py": UNIT,  # the three rates' counting
    "domain/summary.py": VIEWS,  # the folding each action declares
    "projections/views.py": VIEWS,  # the folding engine
}


def copy_tree(dest: Path) -> None:
    """The working tree as it is (tracked and new files, not ignored ones)."""
    if dest.exists():
        shutil.rmtree(dest)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / name.decode()
        if src.is_file():
            (dest / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name.decode())


def configure(dest: Path, module: str, tests: list[str]) -> None:
    package = module.split("/")[0]
    config = {
        "source_paths": [package],
        "only_mutate": [module],
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-p", "no:timeout", "-p", "no:cacheprovider", "-q"],
        # everything the tests read (docs, the lock file, the fixture store, …)
        "also_copy": sorted(p.name for p in dest.iterdir() if p.name not in (package, "tests")),
    }
    lines = ["", "[tool.mutmut]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in config.items()]
    with (dest / "pyproject.toml").open("a") as f:
        f.write("\n".join(lines) + "\n")


def counts(dest: Path) -> dict[str, int]:
    subprocess.run([str(MUTMUT), "export-cicd-stats"], cwd=dest, check=True, capture_output=True)
    stats = json.loads((dest / "mutants" / "mutmut-cicd-stats.json").read_text())
    return {k: int(v) for k, v in stats.items() if isinstance(v, int)}


def survivors(dest: Path) -> list[str]:
    out = subprocess.run(
        [str(MUTMUT), "results"], cwd=dest, check=True, capture_output=True, text=True
    ).stdout
    return [line.split(":")[0].strip() for line in out.splitlines() if "survived" in line]


def run(module: str, children: int) -> dict[str, object]:
    dest = BUILD / module.replace("/", "_").removesuffix(".py")
    copy_tree(dest)
    configure(dest, module, TARGETS[module])
    cmd = ["nice", "-n", "15", str(MUTMUT), "run", "--max-children", str(children)]
    env = {**os.environ, "GRIDFLOW_MUTATION": "1"}  # tests/conftest.py: no shrinking
    with (dest / "mutmut.log").open("w") as log:
        subprocess.run(cmd, cwd=dest, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    c = counts(dest)
    # A mutant no selected test reaches is not killed: it counts against the score (mutmut
    # itself leaves it out, which once read 94.7% for a module half of whose mutants no
    # unit test tried).
    judged = sum(c.get(k, 0) for k in ("killed", "survived", "timeout", "no_tests"))
    killed = c.get("killed", 0) + c.get("timeout", 0)
    return {
        "module": module,
        "counts": c,
        "score": round(killed / judged, 4) if judged else None,
        "survivors": survivors(dest),
    }


def record(summary_file: Path, module: str, result: dict[str, object]) -> None:
    """Write one module's result into the summary, keeping every other module's as the
    file holds it now (two runs of different modules at once each add their own)."""
    with (summary_file.parent / "summary.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        held = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        held[module] = result
        summary_file.write_text(json.dumps(held, indent=1, sort_keys=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    ap.add_argument("--children", type=int, default=2, help="parallel mutants (2 cores)")
    ap.add_argument("--survivors", action="store_true", help="list last run's survivors")
    args = ap.parse_args()
    modules = args.modules or list(TARGETS)
    unknown = [m for m in modules if m not in TARGETS]
    if unknown:
        ap.error(f"not a target: {', '.join(unknown)}")
    BUILD.mkdir(parents=True, exist_ok=True)
    summary_file = BUILD / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    if args.survivors:
        for m in modules:
            print(m, *summary.get(m, {}).get("survivors", []), sep="\n  ")
        return 0
    for module in modules:
        result = run(module, args.children)
        summary[module] = result
        record(summary_file, module, result)
        c: dict[str, int] = result["counts"]  # type: ignore[assignment]
        unreached = f" ({c['no_tests']} reached by no test)" if c.get("no_tests") else ""
        print(f"{module}: {result['score']} killed{unreached}; {c}", flush=True)
    low = [m for m, r in summary.items() if r["score"] is not None and r["score"] < 0.9]
    if low:
        print("below 90%:", ", ".join(low))
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
