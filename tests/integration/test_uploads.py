"""Evidence uploads a client cannot abuse: pixel bombs refused before decoding, decoding
off the event loop, files checked by decoding them whole and served as what they are,
and only those who may act on an issue (or reported it) attaching files to it."""

from __future__ import annotations

import hashlib
import inspect
import io
import threading
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

import stores.evidence as evidence_module
from api import evidence as evidence_routes
from api.app import create_app
from gridflow.settings import Settings
from tests.http.support import Api, api
from tests.images import photo, png_bomb
from tests.support import AUDITOR, HOUSING, LEADER, RESIDENT, STAFF, WORKER, P


def upload(a: Api, issue: str, data: bytes, who: Any = WORKER, name: str = "p.jpg") -> Any:
    return a.client.post(
        f"/issues/{issue}/evidence", files={"file": (name, data)}, headers=a.h(who)
    )


def refused_file(r: Any) -> str:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    problem: str = error["details"]["fields"]["file"]
    return problem


def test_a_pixel_bomb_is_refused_before_it_is_decoded(store_url: str):
    bomb = png_bomb()
    assert len(bomb) < 600_000
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        problem = refused_file(upload(a, i, bomb, name="bomb.png"))
        assert "13000×13000" in problem and "40000000" in problem
        assert a.container.evidence.info(hashlib.sha256(bomb).hexdigest()) == []
        assert upload(a, i, photo()).status_code == 201  # an ordinary photo still goes in


def test_the_pixel_limit_is_configured(tmp_path: Any):
    assert Settings.from_env({"GRIDFLOW_MAX_IMAGE_PIXELS": "1000"}).max_image_pixels == 1000
    assert Settings.from_env({}).max_image_pixels == 40_000_000
    a = Api(f"sqlite:///{tmp_path}/g.db")
    try:
        a.container.evidence.max_pixels = 1000
        i = a.report(WORKER)["id"]
        assert "800×600" in refused_file(upload(a, i, photo()))
    finally:
        a.close()


def test_uploads_run_off_the_event_loop():
    """Structurally: FastAPI runs plain `def` routes in its thread pool."""
    for route in evidence_routes.router.routes:
        assert isinstance(route, APIRoute)
        assert not inspect.iscoroutinefunction(route.endpoint), route.path


def test_a_photo_being_decoded_does_not_hold_up_other_requests(tmp_path: Any, monkeypatch: Any):
    started, finished = threading.Event(), threading.Event()
    decode = evidence_module.read_photo

    def slow_decode(data: bytes, kind: str, max_pixels: int) -> Any:
        started.set()
        try:
            # Held until the other request has been answered (or, if it cannot be
            # answered while this runs, until the deadline).
            answered.wait(20)
            return decode(data, kind, max_pixels)
        finally:
            finished.set()

    answered = threading.Event()
    monkeypatch.setattr(evidence_module, "read_photo", slow_decode)
    a = Api(f"sqlite:///{tmp_path}/g.db")
    try:
        i = a.report(WORKER)["id"]
        results: list[Any] = []
        # One client in a `with` block: both requests share one event loop.
        with TestClient(create_app(a.container.services())) as client:
            uploader = threading.Thread(
                target=lambda: results.append(
                    client.post(
                        f"/issues/{i}/evidence",
                        files={"file": ("p.jpg", photo())},
                        headers=a.h(WORKER),
                    )
                )
            )
            uploader.start()
            assert started.wait(20), "the upload never reached the decoder"
            cheap = client.get("/healthz")
            decoding_still = not finished.is_set()
            answered.set()
            uploader.join(30)
        assert cheap.status_code == 200
        assert decoding_still, "/healthz waited for the photo to be decoded"
        assert results and results[0].status_code == 201
    finally:
        a.close()


def test_files_that_only_start_like_an_image_are_refused(store_url: str):
    real = photo()
    fakes = {
        "magic then a page": b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>",
        "a photo cut short": real[: len(real) // 2],
        "PNG magic then noise": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
        "WebP magic then noise": b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 32,
    }
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        for why, data in fakes.items():
            problem = refused_file(upload(a, i, data))
            assert "not a" in problem, why
            assert a.container.evidence.info(hashlib.sha256(data).hexdigest()) == [], why


def test_evidence_is_served_as_what_it_is_and_never_sniffed(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        data = photo()
        up = upload(a, i, data, name="../x.html").json()
        # The client's bytes are kept: their hash is the id, their EXIF is evidence.
        assert up["evidence_id"] == hashlib.sha256(data).hexdigest()
        assert up["exif"]["time"] == "2026:11:23 09:15:00"
        got = a.client.get(f"/evidence/{up['evidence_id']}", headers=a.h(LEADER))
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("inline;")
        assert "filename*=UTF-8''x.jpg" in got.headers["content-disposition"]
        assert "sandbox" in got.headers["content-security-policy"]
        thumb = a.client.get(f"/evidence/{up['evidence_id']}/thumbnail", headers=a.h(LEADER))
        assert Image.open(io.BytesIO(thumb.content)).width == 320
        assert thumb.headers["x-content-type-options"] == "nosniff"

        pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
        doc = upload(a, i, pdf, name="report.pdf").json()["evidence_id"]
        got = a.client.get(f"/evidence/{doc}", headers=a.h(LEADER))
        assert got.content == pdf and got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("attachment;")


def test_only_who_may_act_on_an_issue_or_reported_it_attaches_files(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        neighbour = P("grid_worker", "g2")  # sees the community's issues, acts in g2 only
        assert a.client.get(f"/issues/{i}", headers=a.h(neighbour)).status_code == 200
        for who, code in ((neighbour, "outside_jurisdiction"), (AUDITOR, "forbidden_role")):
            r = upload(a, i, photo("blue"), who)
            assert r.status_code == 403 and r.json()["error"]["code"] == code, (who, r.text)
        r = upload(a, i, photo("blue"), P("grid_worker", "g3"))  # may not even see it
        assert r.status_code == 404
        for who in (WORKER, LEADER, STAFF):
            assert upload(a, i, photo("green"), who).status_code == 201, who

        mine = a.report(RESIDENT)["id"]
        assert upload(a, mine, photo("white"), RESIDENT).status_code == 201
        a.act(i, "blow_whistle", STAFF, departments=["housing"], grade="standard")
        assert upload(a, i, photo("gray"), HOUSING).status_code == 201  # summoned: may act
        nothing = a.container.evidence.info(hashlib.sha256(photo("blue")).hexdigest())
        assert nothing == []
