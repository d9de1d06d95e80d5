"""Evidence: upload, cite in an action, read back where allowed, refusals."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from tests.http.support import api
from tests.support import LEADER, WORKER, P


def photo(color: str = "red") -> bytes:
    img = Image.new("RGB", (800, 600), color)
    exif = Image.Exif()
    exif[306] = "2026:11:23 09:15:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (37.0, 30.0, 18.0), 3: "E", 4: (122.0, 6.0, 18.0)})
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_evidence_from_upload_to_the_history(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        data = photo()
        up = a.client.post(
            f"/issues/{i}/evidence", files={"file": ("bins.jpg", data)}, headers=a.h(WORKER)
        )
        assert up.status_code == 201, up.text
        body = up.json()
        assert body["evidence_id"] == hashlib.sha256(data).hexdigest()
        assert body["content_type"] == "image/jpeg" and body["thumbnail"]
        assert body["exif"]["time"] == "2026:11:23 09:15:00"
        assert round(body["exif"]["lat"], 3) == 37.505 and round(body["exif"]["lon"], 3) == 122.105
        again = a.client.post(
            f"/issues/{i}/evidence", files={"file": ("copy.jpg", data)}, headers=a.h(WORKER)
        )
        assert again.json()["evidence_id"] == body["evidence_id"]
        store = a.container.evidence.store
        assert store.get(body["evidence_id"]) == data  # stored once, by its hash

        a.act(i, "handle_on_spot", WORKER)
        resolved = a.act(i, "resolve", WORKER, resolution="cleaned", evidence=[body["evidence_id"]])
        assert resolved["evidence"] == [body["evidence_id"]]
        history = a.client.get(f"/issues/{i}/history", headers=a.h(LEADER)).json()["events"]
        assert history[-1]["data"]["evidence"] == [body["evidence_id"]]

        for who in (LEADER, P("auditor", "c1")):
            got = a.client.get(f"/evidence/{body['evidence_id']}", headers=a.h(who))
            assert got.status_code == 200 and got.content == data
        thumb = a.client.get(f"/evidence/{body['evidence_id']}/thumbnail", headers=a.h(LEADER))
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).width == 320
        other = P("grid_worker", "g3")  # another community's grid: may not see the issue
        assert (
            a.client.get(f"/evidence/{body['evidence_id']}", headers=a.h(other)).status_code == 404
        )


def test_refusals_and_citations(store_url: str):
    with api(store_url) as a:
        i = a.report(WORKER)["id"]
        big = b"\xff\xd8\xff" + b"0" * (10 << 20)
        r = a.client.post(
            f"/issues/{i}/evidence", files={"file": ("big.jpg", big)}, headers=a.h(WORKER)
        )
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        r = a.client.post(
            f"/issues/{i}/evidence", files={"file": ("x.jpg", b"#!/bin/sh\n")}, headers=a.h(WORKER)
        )
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
        a.act(i, "handle_on_spot", WORKER)
        bad = a.client.post(
            f"/issues/{i}/actions/resolve",
            json={"resolution": "x", "evidence": ["0" * 64]},
            headers=a.h(WORKER),
        )
        assert bad.status_code == 422 and "evidence.0" in bad.json()["error"]["details"]["fields"]
        # Staged before the report, cited by it, then readable through the issue.
        staged = a.client.post(
            "/evidence", files={"file": ("p.jpg", photo("blue"))}, headers=a.h(WORKER)
        ).json()["evidence_id"]
        issue = a.report(WORKER, evidence=[staged])
        assert issue["evidence"] == [staged]
        assert a.client.get(f"/evidence/{staged}", headers=a.h(LEADER)).status_code == 200
        other = a.client.post(
            "/issues",
            json={"grid_id": "g1", "category": "road", "description": "x", "evidence": [staged]},
            headers=a.h(LEADER),
        )
        assert other.status_code == 422  # someone else's staged upload


def test_an_s3_compatible_store_keeps_evidence_by_hash():
    import boto3
    from moto import mock_aws

    from projections.evidence import S3Store

    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="evidence")
        store = S3Store("evidence")
        data = photo("green")
        key = hashlib.sha256(data).hexdigest()
        assert not store.exists(key)
        store.put(key, data)
        store.put(key, data)
        assert store.get(key) == data and store.get("missing") is None
        listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket="evidence")
        assert listed["KeyCount"] == 1
