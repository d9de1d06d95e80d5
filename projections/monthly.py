"""The monthly report's content (通报), computed from the views in one read: the month's
indicators, rankings of the units below the node, the follow-up board, patrol misses,
hot spots and per-person figures, with the policy they were computed under. It is
frozen once (domain.reports) and then read as stored; `render` writes it as JSON, CSV
or XLSX the same way every time."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

#: The level ranked in a node's report: the one below it that has a score of its own.
RANKED_BELOW = {
    "city": "community",
    "district": "community",
    "street": "community",
    "community": "grid",
}

#: Tabular sections of the report: (section, the key of its rows, their fields).
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("rankings", "id", ("rank", "name", "status", "sample", "score")),
    (
        "patrol_misses",
        "grid_id",
        ("hotline", "misses", "miss_rate", "warning", "found", "late_entries"),
    ),
    (
        "hotspots",
        "category",
        ("reported", "previous", "change", "repeat_rate", "dissatisfaction_rate"),
    ),
    ("people", "principal_id", ("found", "late_entries", "settled_on_spot", "reworked")),
    ("follow_up", "id", ("state", "tier", "grid_id", "category", "urges", "flagged")),
)


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The report as (section, row, field, value) rows, in a fixed order."""
    out: list[tuple[str, str, str, Any]] = [
        ("report", "", k, report[k]) for k in ("node", "month", "from", "to", "frozen_at")
    ]
    for key, value in sorted(report["policy"].items()):
        out.append(("policy", "", key, json.dumps(value, sort_keys=True, ensure_ascii=False)))
    for key, value in sorted(report["indicators"].items()):
        if not isinstance(value, dict):
            out.append(("indicators", "", key, value))
    for kind, value in sorted(report["indicators"].get("on_time_rate_by_kind", {}).items()):
        out.append(("indicators", "on_time_rate_by_kind", kind, value))
    for section, key, fields in SECTIONS:
        for item in report[section]:
            for f in fields:
                value = item.get(f)
                if isinstance(value, list):
                    value = len(value)
                out.append((section, str(item[key]), f, value))
    return out


def render_csv(report: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "row", "field", "value"))
    for section, row, field, value in rows(report):
        writer.writerow((section, row, field, "" if value is None else value))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # a BOM: spreadsheets read UTF-8


def render_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet per section, the same rows as the CSV; fixed workbook properties, so
    that the same report gives the same file."""
    from datetime import datetime

    from openpyxl import Workbook
    from openpyxl.xml.functions import tostring

    book = Workbook()
    sheets: dict[str, Any] = {}
    first = book.active
    for section, row, field, value in rows(report):
        sheet = sheets.get(section)
        if sheet is None:
            if not sheets and first is not None:
                sheet = first
                sheet.title = section
            else:
                sheet = book.create_sheet(section)
            sheet.append(("row", "field", "value"))
            sheets[section] = sheet
        sheet.append((row, field, value))
    stamp = datetime.fromisoformat(report["frozen_at"]).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    book.properties.creator = "gridflow"
    out = io.BytesIO()
    book.save(out)  # (which stamps the properties with the time of writing)
    book.properties.modified = stamp
    core = tostring(book.properties.to_tree())
    return _fixed_times(out.getvalue(), stamp.timetuple()[:6], {"docProps/core.xml": core})


def _fixed_times(xlsx: bytes, when: tuple[int, ...], replace: dict[str, bytes]) -> bytes:
    """The workbook's zip entries (and its properties) stamped with the report's time
    instead of the time of writing, so that every read gives the same bytes."""
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(xlsx)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=when)  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, replace.get(entry.filename) or source.read(entry.filename))
    return out.getvalue()
