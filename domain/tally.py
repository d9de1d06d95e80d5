"""How the views count callbacks (回访) into the three rates (三率): each closure round
contributes once — its valid callback, or, judged at its callback deadline without one,
"not contacted, not solved, not satisfied" — and a round closed as unreachable is
counted apart. Folded from the events' facts (`domain.callbacks` decided them); events
recorded before rounds existed read as: the first callback that reached the resident is
the round's valid one. docs/indicators.md gives the formulas."""

from __future__ import annotations

from typing import Any

from domain.callbacks import answer
from domain.declare import Counter, Folded

Row = dict[str, Any]
#: A round judged at its callback deadline with no valid callback: not calling never helps.
NOT_CALLED = {"cb_valid": 1, "cb_handler_known": 1, "cb_not_called": 1}
UNREACHABLE = {"cb_unreachable": 1}


def contribution(ans: dict[str, Any]) -> dict[str, int]:
    """What a valid callback adds to the rates' counts."""
    out = {"cb_valid": 1}
    if ans["handler_contacted"] is not None:  # unknown in the old shape: not in 响应率
        out["cb_handler_known"] = 1
        if ans["handler_contacted"]:
            out["cb_handler_contacted"] = 1
    if ans["solved"]:
        out["cb_solved"] = 1
    if ans["satisfaction"]:
        out[f"cb_{ans['satisfaction']}"] = 1
    return out


def _add(count: Counter, contrib: dict[str, int], at: str, sign: int = 1) -> None:
    for metric, n in contrib.items():
        count(metric, at=at, n=sign * n)


def new_round(row: Row) -> None:
    row["round"] = {"valid": None, "counted": None}


def raw(e: Folded, count: Counter) -> None:
    """The raw counts of the contract's summary (every callback recorded, as before)."""
    ans = answer(e.data)
    count("callbacks")
    if ans["outcome"] != "reached":
        return
    count("contacted")
    if ans["solved"]:
        count("solved")
    count(ans["satisfaction"])
    if ans["satisfaction"] == "dissatisfied":
        count("reopens")


def callback(row: Row, e: Folded, count: Counter) -> None:
    raw(e, count)
    ans = answer(e.data)
    if row.get("round") is None:
        new_round(row)
    rnd = row["round"]
    facts = e.facts.get("callback") or {
        "valid": ans["outcome"] == "reached" and rnd["valid"] is None
    }
    counted = rnd["counted"]
    if facts["valid"]:
        contrib = contribution(ans)
        if "replaces" in facts:  # both stay on record; the replacement counts
            at = counted["at"] if counted else e.at
            if counted:
                _add(count, counted["contrib"], at, -1)
            _add(count, contrib, at)
            rnd["counted"] = {"at": at, "contrib": contrib}
            count("cb_replaced")
        elif counted:  # the round was judged at its deadline already
            count("cb_late")
            contrib = {}
        else:
            _add(count, contrib, e.at)
            rnd["counted"] = {"at": e.at, "contrib": contrib}
        rnd["valid"] = e.data
        if ans["satisfaction"] == "dissatisfied":
            at = rnd["counted"]["at"] if contrib else None
            row["appeal"] = {"status": None, "counted_at": at}
    elif facts.get("closes") == "unreachable" and counted is None:
        _add(count, UNREACHABLE, e.at)
        rnd["counted"] = {"at": e.at, "contrib": UNREACHABLE}


def callback_missed(row: Row, due: str, count: Counter) -> None:
    """The callback deadline passed: a round with no valid callback counts as not called
    (issues with nobody to call are outside the rates)."""
    rnd = row.get("round")
    if rnd is None or rnd["counted"] is not None or not row.get("contact", True):
        return
    _add(count, NOT_CALLED, due)
    rnd["counted"] = {"at": due, "contrib": NOT_CALLED}


def appeal(row: Row, status: str, count: Counter) -> None:
    a = row.get("appeal")
    if a is None:
        return
    a["status"] = status
    if status == "upheld" and a.get("counted_at"):
        count("cb_appeals_upheld", at=a["counted_at"])  # leaves 满意率, stays on record
