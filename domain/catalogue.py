"""The category catalogue (派单目录, spec/joint-handling.md): categories shaped as the
digital urban management standard has them (GB/T 30428.2: components 部件 and events
事件, two levels of codes), with their 立案 and 结案 conditions, required photos, default
department, limits per deadline kind and whistle grade, and the hotline's names.

An issue keeps the catalogue version it was reported under: the report records the
organisation's version and a snapshot of its category's rules (`facts.catalogue`), and
every later check reads that snapshot, never the catalogue as it is now. An
organisation file with flat categories (`code`, `name`, `limits`) keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from domain.errors import ValidationFailed

if TYPE_CHECKING:
    from domain.issue import Issue
    from domain.organisation import Org

KINDS = ("component", "event")
PHOTO_STEPS = ("report", "resolve")
#: What a snapshot keeps of a category: what later checks and clocks read.
RULES = ("close_conditions", "photos_required", "limits", "default_department")


def _texts(raw: Any) -> bool:
    return isinstance(raw, list) and all(isinstance(x, str) and x.strip() for x in raw)


def category_fields(raw: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """The catalogue's fields of a category (beyond code, name, limits), checked."""
    out: dict[str, Any] = {}
    errs: list[str] = []
    for key in ("parent", "default_department"):
        if raw.get(key) is not None:
            if isinstance(raw[key], str) and raw[key]:
                out[key] = raw[key]
            else:
                errs.append(f"{where}.{key}: a code")
    if raw.get("kind") is not None:
        if raw["kind"] in KINDS:
            out["kind"] = raw["kind"]
        else:
            errs.append(f"{where}.kind: one of {', '.join(KINDS)}")
    for key in ("accept_conditions", "close_conditions"):
        if raw.get(key) is not None:
            if _texts(raw[key]) and len(set(raw[key])) == len(raw[key]):
                out[key] = list(raw[key])
            else:
                errs.append(f"{where}.{key}: a list of distinct texts")
    photos = raw.get("photos_required")
    if photos is not None:
        if isinstance(photos, list) and set(photos) <= set(PHOTO_STEPS):
            out["photos_required"] = sorted(set(photos))
        else:
            errs.append(f"{where}.photos_required: any of {', '.join(PHOTO_STEPS)}")
    # `engineering` is read with the follow-up's extensions (domain.organisation)
    if raw.get("valid_from") is not None:
        try:
            out["valid_from"] = date.fromisoformat(str(raw["valid_from"])).isoformat()
        except ValueError:
            errs.append(f"{where}.valid_from: a date (YYYY-MM-DD)")
    return out, errs


def cross_check(
    cats: list[dict[str, Any]], known: Mapping[str, Any], departments: Mapping[str, Any]
) -> list[str]:
    """Parents are categories one level up (two levels of codes); default departments
    exist."""
    codes = {**known, **{c["code"]: c for c in cats}}
    problems = []
    for c in cats:
        parent = c.get("parent")
        if parent is not None:
            if parent not in codes:
                problems.append(f"{c['code']}: unknown parent category {parent!r}")
            elif codes[parent].get("parent") is not None:
                problems.append(f"{c['code']}: two levels of codes: {parent!r} has a parent")
        dept = c.get("default_department")
        if dept is not None and dept not in departments:
            problems.append(f"{c['code']}: unknown default department {dept!r}")
    return problems


def snapshot(org: Org, code: str) -> dict[str, Any]:
    """What an issue keeps of its category, and the catalogue version it came from."""
    entry = org.categories.get(code, {})
    kept = {k: entry[k] for k in RULES if entry.get(k)}
    return {"version": org.version, "code": code, **kept}


def limits(issue: Issue, org: Org) -> dict[str, str]:
    """The category's limits as the issue's catalogue version had them."""
    if issue.catalogue is not None and issue.catalogue.get("code") == issue.category:
        return dict(issue.catalogue.get("limits", {}))
    return org.category_limits(issue.category)


def check_close(
    issue: Issue, checklist: Mapping[str, bool] | None, evidence: list[str], step: str
) -> None:
    """`resolve` and `verify` confirm every close condition of the issue's category (as
    its version had them); a required after-photo is cited at `resolve`. 422 names each
    one missing."""
    rules = issue.catalogue or {}
    given = checklist or {}
    problems = {
        f"checklist.{c}": "confirm this close condition (结案条件)"
        for c in rules.get("close_conditions", [])
        if given.get(c) is not True
    }
    unknown = set(given) - set(rules.get("close_conditions", []))
    problems |= {f"checklist.{c}": "not a close condition of this category" for c in unknown}
    if step == "resolve" and "resolve" in rules.get("photos_required", []) and not evidence:
        problems["evidence"] = "cite the after-photo this category requires"
    if problems:
        raise ValidationFailed(problems)


def check_report(org: Org, code: str, evidence: list[str], channel: str) -> None:
    """A category that requires a photo at report gets one (a hotline ticket has none)."""
    needed = "report" in org.categories.get(code, {}).get("photos_required", [])
    if needed and not evidence and channel != "hotline":
        raise ValidationFailed({"evidence": "cite the photo this category requires at report"})
