"""The organisation: city → district → street → community → grid, departments, categories.

Every load is recorded in the log as an `Organisation.Changed` event (the upserted
records), so that views rebuild the same way later. `Org` is the read model the
commands consult, built from the aggregate's state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from shapely import STRtree
from shapely.errors import GEOSException
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from domain import catalogue
from domain.deadlines import DEADLINE_KINDS, parse_limit
from domain.errors import InvalidOrganisation
from domain.inputs import text_problems

KINDS = ("city", "district", "street", "community", "grid")
#: What shapely raises for GeoJSON it cannot read.
BAD_GEOJSON = (ValueError, TypeError, KeyError, IndexError, AttributeError, GEOSException)
ORGANISATION_ID: UUID = uuid5(NAMESPACE_URL, "gridflow:organisation")


def address_key(address: str) -> str:
    """An address as compared: NFKC (full-width digits and letters as ASCII), no spaces
    or punctuation between its parts, case folded."""
    text = unicodedata.normalize("NFKC", address).casefold()
    return "".join(ch for ch in text if ch.isalnum() or ch in "#-")


def _continues_number(key: str, needle: str) -> bool:
    """`幸福路1` is not a prefix of `幸福路12`: a number may not be cut in two."""
    return key[-1].isdigit() and needle[len(key)].isdigit()


class Organisation(Aggregate):
    """The one organisation aggregate; its events are the organisation's history."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.departments: dict[str, dict[str, Any]] = {}
        self.categories: dict[str, dict[str, Any]] = {}

    class Changed(Aggregate.Event):
        nodes: list[dict[str, Any]]
        departments: list[dict[str, Any]]
        categories: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            for n in self.nodes:
                aggregate.nodes[n["id"]] = n
            for d in self.departments:
                aggregate.departments[d["id"]] = d
            for c in self.categories:
                aggregate.categories[c["code"]] = c

    @classmethod
    def new(cls) -> Organisation:
        """The organisation before its first file: no nodes yet (its one id is fixed)."""
        org: Organisation = cls._create(cls.Created, id=ORGANISATION_ID)
        return org

    def change(self, document: Mapping[str, Any], *, timestamp: Any = None) -> bool:
        """Validate a whole organisation file and record what it changes.

        Refuses the whole file, with every problem listed, when anything is wrong.
        Returns False when the file changes nothing.
        """
        nodes, departments, categories = validate_document(document, self)
        nodes = [n for n in nodes if self.nodes.get(n["id"]) != n]
        departments = [d for d in departments if self.departments.get(d["id"]) != d]
        categories = [c for c in categories if self.categories.get(c["code"]) != c]
        if not (nodes or departments or categories):
            return False
        self.trigger_event(
            self.Changed,
            nodes=nodes,
            departments=departments,
            categories=categories,
            timestamp=timestamp,
        )
        return True


def _listed(document: Mapping[str, Any], key: str, problems: list[str]) -> list[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"{key}: must be a list of objects")
        return []
    return value


def validate_document(
    document: Mapping[str, Any], current: Organisation | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Normalise an organisation file; raise InvalidOrganisation listing every problem."""
    problems: list[str] = []
    if not isinstance(document, Mapping):
        raise InvalidOrganisation(["the file must be a JSON object"])
    problems += [f"{path}: {problem}" for path, problem in text_problems(dict(document))]
    if problems:  # names and ids with control characters would reach every view
        raise InvalidOrganisation(problems)
    unknown = set(document) - {"nodes", "departments", "categories"}
    problems += [f"{k}: unknown section" for k in sorted(unknown)]
    known_nodes = dict(current.nodes) if current else {}
    known_depts = dict(current.departments) if current else {}

    nodes: list[dict[str, Any]] = []
    for i, raw in enumerate(_listed(document, "nodes", problems)):
        node, errs = _node(raw, f"nodes[{i}]")
        problems += errs
        if node:
            nodes.append(node)
    depts: list[dict[str, Any]] = []
    for i, raw in enumerate(_listed(document, "departments", problems)):
        where = f"departments[{i}]"
        did, name, home = raw.get("id"), raw.get("name"), raw.get("node")
        if not isinstance(did, str) or not did:
            problems.append(f"{where}.id: required string")
            continue
        if not isinstance(name, str) or not name:
            problems.append(f"{where}.name: required string")
        depts.append({"id": did, "name": name or did, "node": home})
    cats: list[dict[str, Any]] = []
    for i, raw in enumerate(_listed(document, "categories", problems)):
        cat, errs = _category(raw, f"categories[{i}]")
        problems += errs
        if cat:
            cats.append(cat)

    seen: dict[str, str] = {}
    for where, ids in (
        ("node", [n["id"] for n in nodes]),
        ("department", [d["id"] for d in depts]),
    ):
        for item_id in ids:
            if item_id in seen:
                problems.append(f"{item_id}: id used twice ({seen[item_id]} and {where})")
            seen[item_id] = where
    for n in nodes:
        if n["id"] in known_depts:
            problems.append(f"{n['id']}: already a department id")
        old = known_nodes.get(n["id"])
        if old and old["kind"] != n["kind"]:
            problems.append(f"{n['id']}: kind cannot change from {old['kind']} to {n['kind']}")
    for d in depts:
        if d["id"] in known_nodes:
            problems.append(f"{d['id']}: already a node id")

    merged = known_nodes | {n["id"]: n for n in nodes}
    for n in nodes:
        parent = n["parent"]
        level = KINDS.index(n["kind"])
        if level == 0:
            if parent is not None:
                problems.append(f"{n['id']}: a city has no parent")
        elif parent not in merged:
            problems.append(f"{n['id']}: unknown parent {parent!r}")
        elif merged[parent]["kind"] != KINDS[level - 1]:
            problems.append(
                f"{n['id']}: a {n['kind']}'s parent must be a {KINDS[level - 1]}, "
                f"not {merged[parent]['kind']} {parent!r}"
            )
    for d in depts:
        if d["node"] is not None and d["node"] not in merged:
            problems.append(f"{d['id']}: unknown node {d['node']!r}")
    problems += catalogue.cross_check(
        cats,
        dict(current.categories) if current else {},
        known_depts | {d["id"]: d for d in depts},
    )
    if problems:
        raise InvalidOrganisation(problems)
    return nodes, depts, cats


def _node(raw: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, list[str]]:
    errs: list[str] = []
    nid, name, kind = raw.get("id"), raw.get("name"), raw.get("kind")
    if not isinstance(nid, str) or not nid:
        return None, [f"{where}.id: required string"]
    if not isinstance(name, str) or not name:
        errs.append(f"{where}.name: required string")
    if kind not in KINDS:
        return None, [*errs, f"{where}.kind: one of {', '.join(KINDS)}"]
    node: dict[str, Any] = {
        "id": nid,
        "name": name or nid,
        "kind": kind,
        "parent": raw.get("parent"),
    }
    boundary = raw.get("boundary")
    if boundary is not None:
        if kind != "grid":
            errs.append(f"{where}.boundary: only grids carry a boundary")
        else:
            try:
                geom = shape(boundary)
                if geom.geom_type != "Polygon" or not geom.is_valid:
                    raise ValueError("not a valid Polygon")
                node["boundary"] = boundary
            except (
                ValueError,
                TypeError,
                KeyError,
                IndexError,
                AttributeError,
                GEOSException,
            ) as exc:
                errs.append(f"{where}.boundary: GeoJSON Polygon (WGS-84) expected ({exc})")
    addresses = raw.get("addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            errs.append(f"{where}.addresses: list of strings")
        else:
            node["addresses"] = addresses
    if isinstance(raw.get("timezone"), str):
        node["timezone"] = raw["timezone"]
    return node, errs


def _category(raw: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, list[str]]:
    code, name, limits = raw.get("code"), raw.get("name"), raw.get("limits", {})
    if not isinstance(code, str) or not code:
        return None, [f"{where}.code: required string"]
    errs: list[str] = []
    if not isinstance(limits, dict):
        return None, [f"{where}.limits: object of deadline kind to limit"]
    for kind, limit in limits.items():
        if kind.split(".")[0] not in DEADLINE_KINDS:
            errs.append(f"{where}.limits.{kind}: unknown deadline kind")
        try:
            parse_limit(limit)
        except ValueError as exc:
            errs.append(f"{where}.limits.{kind}: {exc}")
    title = name if isinstance(name, str) else code
    category: dict[str, Any] = {"code": code, "name": title, "limits": limits}
    if raw.get("engineering") is not None:  # two extensions per deadline (spec/followup.md)
        if not isinstance(raw["engineering"], bool):
            errs.append(f"{where}.engineering: true or false")
        category["engineering"] = raw["engineering"] is True
    extra, more = catalogue.category_fields(raw, where)
    category |= extra
    errs += more
    names = raw.get("hotline_names", [])
    if not (isinstance(names, list) and all(isinstance(n, str) and n for n in names)):
        errs.append(f"{where}.hotline_names: list of the hotline's names for it")
    elif names:
        category["hotline_names"] = names  # 12345's own names, mapped to this code
    return category, errs


class Org:
    """Read model of the organisation, with the indexes commands need."""

    def __init__(self, aggregate: Organisation | None = None) -> None:
        self.nodes: dict[str, dict[str, Any]] = dict(aggregate.nodes) if aggregate else {}
        self.departments: dict[str, dict[str, Any]] = (
            dict(aggregate.departments) if aggregate else {}
        )
        self.categories: dict[str, dict[str, Any]] = dict(aggregate.categories) if aggregate else {}
        self.version = aggregate.version if aggregate else 0

    def ancestors(self, node_id: str) -> list[str]:
        """The node and every node above it, nearest first."""
        chain: list[str] = []
        current: str | None = node_id
        while current is not None and current in self.nodes and current not in chain:
            chain.append(current)
            current = self.nodes[current]["parent"]
        return chain

    def covers(self, scope: str, node_id: str) -> bool:
        return scope in self.ancestors(node_id)

    def is_grid(self, node_id: str) -> bool:
        return self.nodes.get(node_id, {}).get("kind") == "grid"

    def ancestor_of_kind(self, node_id: str, kind: str) -> str | None:
        return next((n for n in self.ancestors(node_id) if self.nodes[n]["kind"] == kind), None)

    def grids(self) -> list[str]:
        return [n for n, v in self.nodes.items() if v["kind"] == "grid"]

    @cached_property
    def _boundaries(self) -> tuple[list[str], list[BaseGeometry], STRtree]:
        ids = [n for n in self.grids() if "boundary" in self.nodes[n]]
        geoms = [shape(self.nodes[n]["boundary"]) for n in ids]
        return ids, geoms, STRtree(geoms)

    def grid_at(self, lat: float, lon: float) -> str | None:
        """The grid whose boundary contains the WGS-84 point, if any."""
        ids, geoms, tree = self._boundaries
        point = Point(lon, lat)
        for i in sorted(int(i) for i in tree.query(point)):
            if geoms[i].covers(point):
                return ids[i]
        return None

    def grid_for_address(self, address: str) -> str | None:
        """The grid of a configured address: the same address written another way
        (full-width digits, spaces, letter case) or a more precise one under it
        (`幸福路1号3单元501室` under `幸福路1号`): the longest configured address it
        starts with."""
        needle = address_key(address)
        best: tuple[int, str] | None = None
        for grid in self.grids():
            for known in self.nodes[grid].get("addresses", ()):
                key = address_key(known)
                fits = key and needle.startswith(key) and (best is None or len(key) > best[0])
                if fits and (len(needle) == len(key) or not _continues_number(key, needle)):
                    best = (len(key), grid)
        return best[1] if best else None

    def category_limits(self, code: str) -> dict[str, str]:
        return dict(self.categories.get(code, {}).get("limits", {}))
