"""/readyz tells the operator, 60 days ahead, that the holiday data runs out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.http.support import api
from tests.support import Clock

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("today", "warns"),
    [(datetime(2026, 11, 29, 9, 0, tzinfo=SH), True), (datetime(2026, 9, 1, tzinfo=SH), False)],
)
def test_readyz_warns_by_the_service_clock(tmp_path: Path, today: datetime, warns: bool):
    with api(f"sqlite:///{tmp_path}/ready.db", Clock(today)) as a:
        r = a.client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"]  # a warning, not unreadiness
    calendar = r.json()["checks"]["calendar"]
    assert calendar["data_until"] == "2026-12-31"
    assert (calendar["note"] is not None) is warns
