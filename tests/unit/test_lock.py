"""The environment `make` builds runs the locked versions, and the lock covers every
declared dependency."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def pins() -> dict[str, str]:
    found = {}
    for line in LOCK.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            found[m.group(1).lower().replace("_", "-")] = m.group(2)
    return found


def test_the_lock_pins_every_declared_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        declared += [r for r in extra if not r.startswith("gridflow")]
    locked = pins()
    assert sorted({_name(r) for r in declared} - set(locked)) == []
    assert "boto3" not in {_name(r) for r in project["dependencies"]}  # the `s3` extra


def test_the_environment_runs_the_locked_versions():
    wrong = {}
    for name, version in pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert wrong == {}
