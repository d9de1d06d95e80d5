"""The public feed's address: the road, never the number (domain.public)."""

from __future__ import annotations

import pytest

from domain.public import coarse, road_name


@pytest.mark.parametrize(
    ("address", "road"),
    [
        ("幸福路1号3单元501室", "幸福路"),
        ("环翠区文化中路12号3单元", "环翠区文化中路"),
        ("威海市环翠区统一路88号楼2单元301", "威海市环翠区统一路"),
        ("环翠街道幸福路1号", "环翠街道幸福路"),
        ("幸福路一号", "幸福路"),
        ("一环路东段5号", "一环路"),  # a road's own numeral stays
        ("文化路(近学校)3号", "文化路"),
        ("翠竹社区1号楼", "翠竹社区"),
        ("Flat 3, 12 Main Street", "Main Street"),
        ("12 Main St., Springfield", "Main St."),
        ("Somewhere 5", None),  # no road to name: nothing rather than a number
        ("#12", None),
        ("", None),
        (None, None),
    ],
)
def test_an_address_is_cut_to_its_road(address: str | None, road: str | None) -> None:
    assert road_name(address) == road


def test_coordinates_are_rounded_to_about_a_hundred_metres() -> None:
    assert (coarse(37.505678), coarse(122.104321), coarse(None)) == (37.506, 122.104, None)
