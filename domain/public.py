"""What anyone may read of an issue without credentials (the Open311 feed).

Only requests filed through Open311 are public — whoever filed them knew they would
be — and even those without the flat: coordinates rounded to three decimals (about
100 m) and the address cut to its road, no house number. Hotline tickets, patrol
reports and residents' reports through the service stay with those who may see them
(domain.access). Personal data is never public.
"""

from __future__ import annotations

import re

PUBLIC_CHANNEL = "open311"
COORDINATE_DECIMALS = 3

_CJK = re.compile(r"[\u3400-\u9fff]")
# Where the number part of a Chinese address starts: a digit, or a numeral that counts
# buildings, units or rooms (幸福路一号, 三单元); road names keep their numerals (一环路).
_NUMBER = re.compile(
    r"[0-9０-９#＃]|[一二三四五六七八九十百千零〇两]+\s*(?:号|號|栋|棟|幢|座|楼|樓|单元|室|层|弄)"
)
_ROADS = "大道|大街|胡同|路|街|道|巷|弄|里"
_ROAD = re.compile(f"(?:{_ROADS})(?!.*(?:{_ROADS}))")  # the last road word
_LATIN_ROAD = re.compile(
    r"\b(?:street|st|road|rd|avenue|ave|lane|ln|way|drive|dr|boulevard|blvd|place|pl|"
    r"square|sq|court|ct|close|terrace|crescent|highway|hwy)\b\.?",
    re.IGNORECASE,
)


def is_public(channel: str) -> bool:
    return channel == PUBLIC_CHANNEL


def coarse(value: float | None) -> float | None:
    """A coordinate to about 100 m."""
    return None if value is None else round(float(value), COORDINATE_DECIMALS)


def road_name(address: str | None) -> str | None:
    """The road of an address without its number (幸福路1号3单元501室 → 幸福路;
    "Flat 3, 12 Main Street" → "Main Street"); None when no part is safe to show."""
    if not address or not address.strip():
        return None
    if _CJK.search(address):
        return _chinese_road(address)
    return _latin_road(address)


def _chinese_road(address: str) -> str | None:
    head = _NUMBER.split(address, maxsplit=1)[0]
    head = re.split(r"[,，;；()（）]", head, maxsplit=1)[0].strip()
    road = _ROAD.search(head)
    if road is not None:
        head = head[: road.end()]
    return head or None


def _latin_road(address: str) -> str | None:
    parts = [p.strip() for p in re.split(r"[,;]", address) if p.strip()]
    for part in parts:  # the part that names a road, if one does
        if _LATIN_ROAD.search(part):
            words = [w for w in part.split() if not re.search(r"\d", w)]
            words = [w for w in words if w.lower() not in ("no", "no.", "#")]
            return " ".join(words) or None
    return None
