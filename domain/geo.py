"""Coordinates: every stored coordinate is WGS-84.

Chinese map services give GCJ-02 (高德, 腾讯) or BD-09 (百度), hundreds of metres off
WGS-84; inputs say which one they use and are converted here.
"""

from __future__ import annotations

import math
from enum import StrEnum

from coordTransform import bd09_to_wgs84, gcj02_to_wgs84


class CRS(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def to_wgs84(lat: float, lon: float, crs: CRS | str = CRS.WGS84) -> tuple[float, float]:
    """(lat, lon) in `crs` → (lat, lon) in WGS-84."""
    crs = CRS(crs)
    if crs is CRS.WGS84:
        return lat, lon
    convert = gcj02_to_wgs84 if crs is CRS.GCJ02 else bd09_to_wgs84
    wlon, wlat = convert(lon, lat)
    return float(wlat), float(wlon)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
