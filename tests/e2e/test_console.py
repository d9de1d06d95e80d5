"""The web console in a real headless Chromium (Debian's), driven by Playwright, against
`gridflow serve` on a real store with the demo city. Screenshots go to
test-artifacts/console/."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image

from domain.workflow import CLIENT_ACTIONS

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


EXTRA_PEOPLE = [("callback_desk", "callback-desk-he", "community_staff", "huancui-s1-c1")]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if not os.path.exists(CHROMIUM):
        why = f"{CHROMIUM} is missing (scripts/ensure-browser installs it as root)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    home = tmp_path_factory.mktemp("console")
    port = _port()
    env = {**os.environ, "GRIDFLOW_DATABASE_URL": f"sqlite:///{home}/gridflow.db"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridflow.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    tokens: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"^  (\w+)\s+\S+\s+scope=\S+\s+(gf_\S+)", line)
        if m:
            tokens[m.group(1)] = m.group(2)
        if "listening on" in line:
            break
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    # Besides the demo's one person per role: a callback desk that handles nothing
    # (nobody who handled an issue records its callback).
    for name, principal, role, scope in EXTRA_PEOPLE:
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "gridflow.cli",
                "token",
                "create",
                "--principal",
                principal,
                "--role",
                role,
                "--scope",
                scope,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        tokens[name] = made.stdout.strip().splitlines()[-1]
    yield base, tokens
    proc.terminate()
    proc.wait(20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Console:
    def __init__(self, browser: Any, base: str, tokens: dict[str, str], name: str) -> None:
        self.browser, self.base, self.tokens, self.name = browser, base, tokens, name
        self.pages: dict[str, Any] = {}
        self.done: set[str] = set()
        self.shots = 0
        self.logs: list[str] = []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def as_(self, role: str, width: int = 1280) -> Any:
        if role not in self.pages:
            ctx = self.browser.new_context(
                viewport={"width": width, "height": 900},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = ctx.new_page()
            page.on("console", lambda m: self.logs.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: self.logs.append(str(e)))
            page.on(
                "response",
                lambda r: (
                    self.logs.append(f"{r.status} {r.request.method} {r.url}")
                    if r.status >= 400
                    else None
                ),
            )
            page.goto(self.base + "/console")
            page.fill("[data-testid=token]", self.tokens[role])
            page.click("[data-testid=sign-in]")
            page.wait_for_selector("[data-testid=who]")
            self.pages[role] = page
        return self.pages[role]

    def shot(self, page: Any, name: str) -> None:
        self.shots += 1
        path = ARTIFACTS / f"{self.name}-{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)

    def open(self, role: str, issue: str) -> Any:
        page = self.as_(role)
        page.goto(f"{self.base}/console#/issue/{issue}")
        page.reload()  # as a person coming back to the page would see it now
        try:
            page.wait_for_selector("[data-testid=issue-page] >> text=v", timeout=15_000)
        except Exception:
            self.shot(page, f"{role}-open-stuck")
            raise AssertionError(
                f"the issue page did not open; browser errors: {self.logs}"
            ) from None
        page.wait_for_function(
            "id => document.querySelector('[data-testid=issue-state]') && "
            "location.hash.endsWith(id)",
            arg=issue,
        )
        page.wait_for_timeout(150)
        return page

    def state(self, page: Any) -> str:
        return str(page.get_attribute("[data-testid=issue-state]", "data-state"))

    def act(
        self,
        role: str,
        issue: str,
        action: str,
        fields: dict[str, Any] | None = None,
        photo: bytes | None = None,
    ) -> Any:
        page = self.open(role, issue)
        page.click(f"[data-testid=action-{action}]")
        page.wait_for_selector(f"[data-testid=form-{action}]")
        for name, value in (fields or {}).items():
            sel = f"[data-testid=field-{name}]"
            if isinstance(value, bool):
                page.set_checked(sel, value)
            elif (
                isinstance(value, list) or page.eval_on_selector(sel, "e => e.tagName") == "SELECT"
            ):
                page.select_option(sel, value)
            else:
                page.fill(sel, value)
        if photo is not None:
            page.set_input_files(
                "[data-testid=field-evidence]",
                files=[{"name": "p.jpg", "mimeType": "image/jpeg", "buffer": photo}],
            )
        before = page.inner_text("[data-testid=issue-version]")
        page.click("[data-testid=action-submit]")
        try:
            page.wait_for_function(
                "v => document.querySelector('[data-testid=issue-version]').innerText !== v || "
                "getComputedStyle(document.querySelector('[data-testid=error]')).display "
                "!== 'none'",
                arg=before,
                timeout=10_000,
            )
        except Exception:
            self.shot(page, f"{role}-{action}-stuck")
            raise AssertionError(f"{action} did not finish; browser errors: {self.logs}") from None
        error = page.locator("[data-testid=error]")
        assert not error.is_visible(), f"{action}: {error.inner_text()}"
        self.done.add(action)
        self.shot(page, f"{role}-{action}")
        return page

    def report(self, description: str, **extra: Any) -> str:
        page = self.as_("grid_worker", width=390)
        page.goto(self.base + "/console#/report")
        page.wait_for_selector("[data-testid=report-form]")
        page.select_option("[data-testid=report-category]", "road")
        page.fill("[data-testid=report-description]", description)
        if extra.get("phone"):
            page.fill("[data-testid=report-phone]", extra["phone"])
        if extra.get("settled"):
            page.set_checked("[data-testid=report-settled]", True)
            page.fill("[data-testid=report-resolution]", extra["settled"])
        page.click("[data-testid=report-submit]")
        page.wait_for_function("() => location.hash.startsWith('#/issue/')")
        page.wait_for_selector("[data-testid=issue-state]")
        self.done.add("report")
        return str(page.evaluate("location.hash.split('/')[2]"))


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "orange").save(out, "JPEG")
    return out.getvalue()


def test_a_day_of_work_walks_every_action_through_the_console(server: Any, browser: Any):
    base, tokens = server
    c = Console(browser, base, tokens, "day")

    worker = c.as_("grid_worker", width=390)
    worker.wait_for_selector("[data-testid=queue-item]")
    assert worker.locator("[data-testid=queue-item]").count() >= 1
    c.shot(worker, "worker-queue-phone")

    settled = c.report(
        "E2E 消防通道停车 car in the fire lane", settled="车已挪走 moved", phone="13900000001"
    )
    assert c.state(c.open("grid_worker", settled)) == "resolved"
    c.shot(c.pages["grid_worker"], "worker-settled-on-the-spot")

    a = c.report("E2E 主管道漏水 main pipe leaking", phone="13900000002")
    assert c.state(c.open("grid_worker", a)) == "reported"
    c.act("grid_worker", a, "handle_on_spot")
    c.act("grid_worker", a, "suspend", {"reason": "住户不在家 nobody home"})
    c.act("grid_leader", a, "deny_suspension", {"reason": "上午可入户 the flat is open mornings"})
    c.act("grid_worker", a, "suspend", {"reason": "等待入户 waiting for access"})
    c.act("grid_leader", a, "approve_suspension")
    c.act("grid_worker", a, "resume")
    extension = {"reason": "配件在途 the part is on order", "extra": "3wd"}
    c.act("grid_worker", a, "request_extension", extension)
    c.act("grid_leader", a, "deny_extension", {"reason": "先关阀止水 shut the valve first"})
    c.act("grid_worker", a, "request_extension", {**extension, "extra": "2wd"})
    c.act("grid_leader", a, "approve_extension")
    c.act("grid_worker", a, "comment", {"text": "已联系物业"})
    page = c.act(
        "community_staff",
        a,
        "coordinate",
        {"lead_party": "物业公司", "parties": "业委会, 居民代表"},
    )
    assert c.state(page) == "coordinating"
    # The whistle gives each department its task (分工) and names the lead (牵头).
    page = c.act(
        "community_staff",
        a,
        "blow_whistle",
        {
            "departments": ["housing", "water"],
            "task-housing": "更换楼内主管道 replace the riser",
            "task-water": "关闭总阀 shut the mains valve",
            "lead-housing": True,
            "grade": "urgent",
        },
    )
    assert c.state(page) == "whistle_blown"
    c.act(
        "department_officer", a, "contest_summons", {"reason": "主管道属水务 the main is water's"}
    )
    c.act(
        "community_staff",
        a,
        "uphold_summons",
        {"department_id": "housing", "reason": "楼内立管归住建 the riser is yours"},
    )
    c.act("department_officer", a, "acknowledge")
    page = c.act("department_officer", a, "report_in", {}, photo=jpeg())
    assert "已报到" in page.inner_text("[data-testid=departments]")
    # Reported in without a position: the community confirms the officer was there.
    c.act("community_staff", a, "confirm_presence", {"department_id": "housing"})
    held = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(hours=1)
    c.act(
        "community_staff",
        a,
        "record_meeting",
        {
            "held_at": held.strftime("%Y-%m-%dT%H:%M"),
            "attendees": "住建局, 水务集团, 社区 community",
            "decisions": "住建今日换管，水务配合停水 housing replaces the riser today",
        },
    )
    c.act("street_officer", a, "summon", {"departments": ["police"]})
    c.act("street_officer", a, "release", {"department_id": "water", "reason": "不属职责"})

    sup = c.as_("city_supervisor")
    sup.goto(base + "/console#/supervision")
    sup.wait_for_selector(f"[data-testid=board] a[href='#/issue/{a}']")
    sup.wait_for_timeout(500)  # the charts draw
    c.shot(sup, "supervisor-board")
    c.act("city_supervisor", a, "urge", {"message": "请今日报到"})

    page = c.act("street_officer", a, "release", {"department_id": "police", "reason": "已处理"})
    assert c.state(page) == "joint_handling"
    c.act("department_officer", a, "complete_task", {"result": "立管已更换 riser replaced"})
    c.act("department_officer", a, "resolve", {"resolution": "更换管道"}, photo=jpeg())
    c.act("street_officer", a, "rework", {"reason": "仍有渗水"})
    c.act("community_staff", a, "resolve", {"resolution": "二次修复"})
    page = c.act("street_officer", a, "verify")
    assert c.state(page) == "closed"
    c.act(
        "community_staff",
        a,
        "evaluate_department",
        {
            "department_id": "housing",
            "timeliness": "5",
            "attendee_level": "leader",
            "cooperation": "4",
            "result": "5",
        },
    )
    c.act(
        "callback_desk",
        a,
        "record_callback",
        {
            "outcome": "reached",
            "handler_contacted": "yes",
            "solved": "yes",
            "satisfaction": "satisfied",
            "via": "phone",
        },
    )

    # A dissatisfied callback the unit appeals: rejected once, upheld the next time.
    dissatisfied = {
        "outcome": "reached",
        "handler_contacted": "no",
        "solved": "no",
        "satisfaction": "dissatisfied",
        "reason": "车又停回来了 the car is back",
        "via": "visit",
    }
    c.act("grid_leader", settled, "verify")
    page = c.act("callback_desk", settled, "record_callback", dissatisfied)
    assert c.state(page) == "on_spot"
    appeal = {"reason": "车主非本小区 not a resident's car"}
    c.act("grid_worker", settled, "appeal_callback", appeal)
    c.act("street_officer", settled, "reject_appeal", {"reason": "仍属网格职责 still the grid's"})
    c.act("grid_worker", settled, "resolve", {"resolution": "贴条并联系交警 ticketed"})
    c.act("grid_leader", settled, "verify")
    page = c.act("callback_desk", settled, "record_callback", dissatisfied)
    assert c.state(page) == "coordinating"
    c.act("grid_leader", settled, "appeal_callback", {"reason": "诉求超出职责 beyond any remit"})
    c.act("city_supervisor", settled, "uphold_appeal", {"reason": "不合理诉求 unreasonable"})

    # A small matter the grid would hand up: a follow-up item on the way, then escalated.
    e = c.report("E2E 楼道堆物 clutter in the stairwell")
    c.act("grid_worker", e, "handle_on_spot")
    owner = {"principal_id": "grid-worker-li", "note": "李师傅熟悉该楼 Li knows the building"}
    c.act("grid_leader", e, "assign", owner)
    c.act("street_officer", e, "flag", {"message": "请周五前说明进展 explain by Friday"})
    c.act("grid_worker", e, "reply_flag", {"text": "已通知住户清理 residents told to clear it"})
    c.act("street_officer", e, "clear_flag", {"note": "已核实 checked"})
    c.act(
        "grid_worker", e, "request_escalation", {"reason": "需业委会同意 the committee must agree"}
    )
    c.act("grid_leader", e, "deny_escalation", {"reason": "先联系物业 call the manager first"})
    c.act("grid_worker", e, "request_escalation", {"reason": "物业无权处理 the manager may not"})
    page = c.act(
        "grid_leader", e, "approve_escalation", {"lead_party": "物业公司", "parties": "业委会"}
    )
    assert c.state(page) == "coordinating"

    # A 12345 ticket the grid returns to the hotline, with the street's approval (退单).
    ticket = httpx.post(
        base + "/issues",
        json={
            "grid_id": "huancui-s1-c1-g1",
            "category": "road",
            "description": "E2E 12345 咨询燃气开户 how to open a gas account",
            "channel": "hotline",
            "hotline": {"ticket_no": "E2E-0001", "ticket_type": "consult"},
        },
        headers={"Authorization": f"Bearer {tokens['intake']}"},
    )
    assert ticket.status_code in (200, 201), ticket.text
    h = ticket.json()["id"]
    c.act("grid_leader", h, "return_to_hotline", {"reason": "燃气公司事项 the gas company's"})
    page = c.act("street_officer", h, "approve_return")
    assert c.state(page) == "rejected"

    b = c.report("E2E 路灯不亮 street light out")
    page = c.act("grid_leader", b, "transfer", {"grid_id": "huancui-s1-c1-g2", "reason": "属邻格"})
    assert c.state(page) == "reported"
    dup = c.report("E2E 路灯不亮 again")
    page = c.act("grid_leader", dup, "merge", {"duplicate_of": b})
    assert c.state(page) == "merged"
    d = c.report("E2E 咨询 a question")
    page = c.act("grid_leader", d, "reject", {"reason": "非网格事项"})
    assert c.state(page) == "rejected"

    assert c.done == {"report", *CLIENT_ACTIONS}, set(CLIENT_ACTIONS) - c.done

    auditor = c.as_("auditor")
    auditor.goto(base + f"/console#/audit/{a}")
    auditor.wait_for_selector("[data-testid=replay-slider]")
    history = httpx.get(
        f"{base}/issues/{a}/history", headers={"Authorization": f"Bearer {tokens['auditor']}"}
    ).json()["events"]
    coordinated = next(e["version"] for e in history if e["action"] == "coordinate")
    auditor.locator("[data-testid=replay-slider]").fill(str(coordinated))
    auditor.locator("[data-testid=replay-slider]").dispatch_event("change")
    auditor.wait_for_selector("[data-testid=replay-state][data-state=coordinating]")
    c.shot(auditor, "auditor-scrubs-history")
    for _ in range(50):  # the in-process audit worker hashes new events within a second
        auditor.click("[data-testid=verify-button]")
        auditor.wait_for_selector("[data-testid=verify-result]")
        if "完整" in auditor.inner_text("[data-testid=verify-result]"):
            break
        auditor.wait_for_timeout(200)
    assert "日志链完整" in auditor.inner_text("[data-testid=verify-result]")
    c.shot(auditor, "auditor-chain-verified")
    # Every page above ran under the console's Content-Security-Policy.
    assert (
        "script-src 'self' 'unsafe-eval'"
        in httpx.get(base + "/console").headers["content-security-policy"]
    )
    refused = [m for m in c.logs if "Content Security Policy" in m]
    assert not refused, refused


def test_a_refused_action_shows_the_reason_and_changes_nothing(server: Any, browser: Any):
    base, tokens = server
    c = Console(browser, base, tokens, "refused")
    issue = c.report("E2E 井盖缺失 missing manhole cover")
    c.act("grid_worker", issue, "handle_on_spot")

    def api(role: str, action: str, body: dict[str, Any]) -> None:
        r = httpx.post(
            f"{base}/issues/{issue}/actions/{action}",
            json=body,
            headers={"Authorization": f"Bearer {tokens[role]}"},
        )
        assert r.status_code == 200, r.text

    def version() -> int:
        r = httpx.get(
            f"{base}/issues/{issue}", headers={"Authorization": f"Bearer {tokens['auditor']}"}
        )
        return int(r.json()["version"])

    # A stale page: someone else changed the issue since the page was loaded.
    page = c.open("grid_worker", issue)
    api("community_staff", "comment", {"text": "meanwhile"})
    before = version()
    page.click("[data-testid=action-comment]")
    page.fill("[data-testid=field-text]", "from a stale page")
    page.click("[data-testid=action-submit]")
    page.wait_for_selector("[data-testid=error]:visible")
    assert "version" in page.inner_text("[data-testid=error]")
    assert version() == before
    c.shot(page, "refused-stale-page")

    # The wrong role: the matter became big while the page was open.
    page = c.open("grid_worker", issue)
    api("community_staff", "coordinate", {"lead_party": "property company"})
    before = version()
    page.click("[data-testid=action-resolve]")
    page.fill("[data-testid=field-resolution]", "done")
    page.click("[data-testid=action-submit]")
    page.wait_for_selector("[data-testid=error]:visible")
    assert "may not resolve" in page.inner_text("[data-testid=error]")
    assert version() == before
    c.shot(page, "refused-wrong-role")


@pytest.mark.parametrize("width", [390, 1280])
def test_pages_fit_the_screen_on_a_phone_and_a_desk(server: Any, browser: Any, width: int):
    base, tokens = server
    c = Console(browser, base, tokens, f"layout{width}")
    for role, route in (
        ("grid_worker", "#/queue"),
        ("grid_worker", "#/report"),
        ("city_supervisor", "#/supervision"),
        ("auditor", "#/audit"),
    ):
        page = c.as_(role, width=width)
        page.goto(f"{base}/console{route}")
        page.wait_for_timeout(400)
        overflow = page.evaluate("document.scrollingElement.scrollWidth - innerWidth")
        assert overflow <= 1, f"{route} overflows by {overflow}px at {width}px"
        c.shot(page, f"layout-{width}-{role}-{route[2:]}")
