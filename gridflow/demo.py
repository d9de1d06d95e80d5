"""A realistic demo city: Weihai (威海), its districts, streets, communities and grids,
departments, categories, and issues in every state of the workflow."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.principals import Principal, Role
from domain.service import IssueService

_DISTRICTS = [
    ("huancui", "环翠区 Huancui", 122.12, 37.50),
    ("wendeng", "文登区 Wendeng", 122.05, 37.20),
]
_STREETS = ["环翠楼街道", "鲸园街道", "竹岛街道"]
_COMMUNITIES = ["海滨社区", "古寨社区", "塔山社区"]
_GRIDS_PER_COMMUNITY = 4
_CELL = 0.004  # degrees per grid cell: about 350 m × 450 m

DEPARTMENTS = [
    ("housing", "住建局 Housing and construction bureau"),
    ("urban", "城管局 Urban management bureau"),
    ("water", "水务集团 Water utility"),
    ("market", "市场监管局 Market regulation"),
    ("police", "公安分局 Police sub-bureau"),
    ("emergency", "应急管理局 Emergency management"),
]
CATEGORIES = [
    ("sanitation", "环境卫生 Exposed rubbish", {"small_resolution": "4wh"}),
    ("road", "道路破损 Damaged road", {}),
    ("parking", "违章停车 Illegal parking", {"small_resolution": "2h"}),
    ("noise", "噪音扰民 Noise", {}),
    ("water_leak", "管道漏水 Water leak", {"hard_resolution": "10wd"}),
    ("elevator", "电梯故障 Elevator fault", {"big_resolution": "3wd"}),
    ("dispute", "邻里纠纷 Neighbour dispute", {}),
    ("construction", "违章建筑 Illegal construction", {}),
    ("facilities", "公共设施 Public facilities", {}),
]


def organisation() -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {"id": "weihai", "name": "威海市 Weihai", "kind": "city", "parent": None}
    ]
    for d_i, (d_id, d_name, lon0, lat0) in enumerate(_DISTRICTS):
        nodes.append({"id": d_id, "name": d_name, "kind": "district", "parent": "weihai"})
        for s_i, s_name in enumerate(_STREETS):
            s_id = f"{d_id}-s{s_i + 1}"
            nodes.append({"id": s_id, "name": s_name, "kind": "street", "parent": d_id})
            for c_i, c_name in enumerate(_COMMUNITIES):
                c_id = f"{s_id}-c{c_i + 1}"
                nodes.append({"id": c_id, "name": c_name, "kind": "community", "parent": s_id})
                for g_i in range(_GRIDS_PER_COMMUNITY):
                    g_id = f"{c_id}-g{g_i + 1}"
                    x = lon0 + ((s_i * 3 + c_i) * 2 + g_i % 2) * _CELL
                    y = lat0 + (g_i // 2) * _CELL + d_i * 0.0
                    ring = [[x, y], [x + _CELL, y], [x + _CELL, y + _CELL], [x, y + _CELL], [x, y]]
                    nodes.append(
                        {
                            "id": g_id,
                            "name": f"{c_name} 第{g_i + 1}网格",
                            "kind": "grid",
                            "parent": c_id,
                            "boundary": {"type": "Polygon", "coordinates": [ring]},
                            "addresses": [f"{c_name}{g_i + 1}号楼", f"{c_name}{g_i + 1}号院"],
                        }
                    )
    return {
        "nodes": nodes,
        "departments": [{"id": i, "name": n, "node": "huancui"} for i, n in DEPARTMENTS],
        "categories": [{"code": c, "name": n, "limits": lim} for c, n, lim in CATEGORIES],
    }


GRID = "huancui-s1-c1-g1"
OTHER_GRID = "huancui-s1-c1-g2"
COMMUNITY = "huancui-s1-c1"
STREET = "huancui-s1"

#: One principal per role, each scoped as a real user would be.
PRINCIPALS: dict[str, Principal] = {
    "resident": Principal("resident-wang", Role.RESIDENT, COMMUNITY),
    "building_head": Principal("building-head-li", Role.BUILDING_HEAD, GRID),
    "grid_worker": Principal("grid-worker-zhang", Role.GRID_WORKER, GRID),
    "grid_leader": Principal("grid-leader-liu", Role.GRID_LEADER, GRID),
    "community_staff": Principal("community-chen", Role.COMMUNITY_STAFF, COMMUNITY),
    "street_officer": Principal("street-zhao", Role.STREET_OFFICER, STREET),
    "department_officer": Principal("housing-sun", Role.DEPARTMENT_OFFICER, "housing"),
    "city_supervisor": Principal("city-supervisor-zhou", Role.CITY_SUPERVISOR, "weihai"),
    "auditor": Principal("auditor-wu", Role.AUDITOR, "weihai"),
    "intake": Principal("hotline-12345", Role.INTAKE, "weihai"),
    "admin": Principal("admin", Role.ADMIN, "weihai"),
}


def demo_issue_id(n: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"gridflow:demo:{n}")


def load(service: IssueService, now: datetime) -> dict[str, int]:
    """Load the organisation and walk demo issues into every state. Returns counts by
    state. Times run from two hours before `now`, a few minutes per step, so that the
    clocks are still running when the service starts (an urgent whistle runs late)."""
    service.load_org(organisation())
    P = PRINCIPALS
    w, gl, cs, so = P["grid_worker"], P["grid_leader"], P["community_staff"], P["street_officer"]
    dept, sup, res = P["department_officer"], P["city_supervisor"], P["resident"]
    water = Principal("water-qian", Role.DEPARTMENT_OFFICER, "water")
    clock = service.clock
    t = [now - timedelta(hours=2)]
    service.clock = lambda: t[0]
    counter = iter(range(1, 10_000))

    def new(p: Principal, category: str, text: str, grid: str = GRID, **extra: Any) -> UUID:
        t[0] += timedelta(minutes=3)
        body = {"grid_id": grid, "category": category, "description": text, **extra}
        return service.report(p, body, issue_id=demo_issue_id(next(counter))).issue.id

    def step(issue: UUID, action: str, p: Principal, data: Any = None) -> None:
        t[0] += timedelta(minutes=2)
        service.act(issue, action, p, data or {})

    try:
        new(
            res,
            "noise",
            "楼下烧烤店夜间噪音 Night-time noise from a barbecue stall",
            reporter={"name": "王女士", "phone": "13800000001"},
        )
        on_spot = new(w, "sanitation", "垃圾桶满溢 Overflowing bins at gate 2")
        step(on_spot, "handle_on_spot", w)
        big = new(w, "elevator", "3号楼电梯停运 Building 3 elevator stopped")
        step(
            big,
            "coordinate",
            gl,
            {"lead_party": "物业公司 property company", "parties": ["业委会 owners' committee"]},
        )
        hard = new(cs, "water_leak", "主管道漏水 Main pipe leaking under the road")
        step(hard, "blow_whistle", cs, {"departments": ["housing", "water"], "grade": "standard"})
        step(hard, "acknowledge", dept)
        joint = new(cs, "construction", "违建阳台 Illegal balcony extension")
        step(joint, "blow_whistle", cs, {"departments": ["housing"], "grade": "crucial"})
        step(joint, "report_in", dept, {"note": "到场 on site"})
        step(joint, "urge", sup, {"message": "请加快 Please speed up"})
        resolved = new(
            w,
            "parking",
            "消防通道停车 Car blocking the fire lane",
            settled_on_spot=True,
            resolution="车主已挪车 Owner moved the car",
        )
        closed = new(
            w,
            "road",
            "人行道砖松动 Loose paving stones",
            reporter={"name": "李先生", "phone": "13800000002"},
        )
        step(closed, "handle_on_spot", w)
        step(closed, "resolve", w, {"resolution": "已修复 Fixed"})
        step(closed, "verify", gl)
        step(
            closed,
            "record_callback",
            cs,
            {"contacted": True, "solved": True, "satisfaction": "satisfied"},
        )
        rejected = new(w, "facilities", "咨询办证 Asks about ID cards (not a grid matter)")
        step(rejected, "reject", gl, {"reason": "非网格事项 Not a grid matter; referred to 12345"})
        target = new(w, "sanitation", "绿化带垃圾 Rubbish in the green belt")
        dup = new(P["building_head"], "sanitation", "绿化带有垃圾 Rubbish in green belt, again")
        step(dup, "merge", gl, {"duplicate_of": str(target)})
        suspended = new(w, "dispute", "邻里漏水纠纷 Leak between neighbours")
        step(suspended, "coordinate", cs, {"lead_party": "社区调委会 mediation committee"})
        step(suspended, "suspend", cs, {"reason": "等待入户 Waiting for access to the flat"})
        step(suspended, "approve_suspension", so, {})
        hard_release = new(cs, "road", "塌陷 Road subsidence by the school")
        step(
            hard_release,
            "blow_whistle",
            so,
            {"departments": ["housing", "water"], "grade": "urgent"},
        )
        step(hard_release, "report_in", water)
        step(
            hard_release,
            "release",
            so,
            {"department_id": "housing", "reason": "不属职责 Not its remit"},
        )
        # In the neighbouring grid: the demo grid worker sees it, but may not act on it.
        new(cs, "sanitation", "隔壁网格垃圾堆放 Rubbish heap in the next grid", grid=OTHER_GRID)
        _ = resolved
    finally:
        service.clock = clock
    counts: dict[str, int] = {}
    for n in range(1, next(counter)):
        state = service.get(demo_issue_id(n)).state
        counts[state] = counts.get(state, 0) + 1
    return counts
