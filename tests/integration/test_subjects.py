"""Reporters' subjects are keyed with a secret outside the database, so an erased phone
number cannot be recovered from the log; erasure still finds every subject a person
was given, by older code too."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridflow.container import Container
from gridflow.settings import Settings
from stores.privacy import KeyVault
from tests.http.support import Api, api
from tests.support import RESIDENT, STAFF, WORKER, P

PHONE = "13912345678"
KEY = base64.b64encode(b"k" * 32).decode()


def source_salted(phone: str) -> str:
    """What the code before keyed subjects wrote: SHA-256 with a salt in the source."""
    digits = re.sub(r"\D", "", phone)
    return hashlib.sha256(f"gridflow-subject\nphone:{digits}".encode()).hexdigest()


def stored_subjects(a: Api) -> list[str]:
    found = []
    for row in a.container.audit.stream():
        reporter = json.loads(row.state).get("data", {}).get("reporter")
        if reporter:
            found.append(reporter["subject"])
    return found


class OldCodeVault:
    """Seals the way the code before keyed subjects did, in the same key table."""

    def __init__(self, vault: KeyVault) -> None:
        self.db, self.open = vault.db, vault.open  # opening never depended on the subject's form

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        subject = source_salted(data["phone"])
        key = AESGCM.generate_key(bit_length=256)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at) "
                "VALUES (%s, %s, '2026-01-01') ON CONFLICT (subject) DO NOTHING",
                (subject, base64.b64encode(key).decode()),
            )
            cur.execute(
                "SELECT subject_key FROM gridflow_subject_keys WHERE subject = %s", (subject,)
            )
            key = base64.b64decode(cur.fetchone()[0])
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, json.dumps(data).encode(), subject.encode())
        return {"sealed": base64.b64encode(nonce + sealed).decode(), "subject": subject}


def reporter_of(a: Api, issue: str) -> Any:
    return a.client.get(f"/issues/{issue}", headers=a.h(STAFF)).json()["reporter"]


def test_a_new_subject_is_not_the_source_salted_hash_of_the_phone(store_url: str):
    with api(store_url) as a:
        a.report(RESIDENT, reporter={"phone": PHONE})
        a.report(RESIDENT, reporter={"phone": "139 1234 5678"})  # the same person
        subjects = stored_subjects(a)
        assert len(subjects) == 2 and subjects[0] == subjects[1]
        assert source_salted(PHONE) not in subjects
        assert subjects[0].startswith("hmac:")
        with a.container.db.transaction(write=False) as cur:
            cur.execute("SELECT subject FROM gridflow_subject_keys")
            assert source_salted(PHONE) not in {r[0] for r in cur.fetchall()}


def test_erasure_finds_old_and_new_subjects_of_a_person(store_url: str):
    with api(store_url) as a:
        svc = a.container.service
        keyed = svc.vault
        svc.vault = OldCodeVault(keyed)  # type: ignore[assignment]
        old = a.report(RESIDENT, reporter={"name": "Wang", "phone": PHONE})["id"]
        svc.vault = keyed
        new = a.report(RESIDENT, reporter={"name": "Wang", "phone": PHONE})["id"]
        assert reporter_of(a, old) == reporter_of(a, new) == {"name": "Wang", "phone": PHONE}

        admin = P("admin", "c1")
        r = a.client.post("/privacy/erasures", json={"phone": PHONE}, headers=a.h(admin))
        assert r.json() == {"erased": True}
        assert reporter_of(a, old) == reporter_of(a, new) == {"erased": True}
        again = a.report(RESIDENT, reporter={"phone": PHONE})["id"]
        assert reporter_of(a, again) == {"erased": True}  # later reports are not kept


def test_someone_forgotten_by_older_code_stays_forgotten(store_url: str):
    with api(store_url) as a:
        with a.container.db.transaction() as cur:  # an erasure request older code recorded
            cur.execute(
                "INSERT INTO gridflow_subject_keys (subject, subject_key, created_at, erased_at)"
                " VALUES (%s, NULL, '2026-01-01', '2026-01-01')",
                (source_salted(PHONE),),
            )
        i = a.report(RESIDENT, reporter={"phone": PHONE})["id"]
        assert reporter_of(a, i) == {"erased": True}


def test_an_erasure_request_leaves_no_reversible_hash_behind(store_url: str):
    with api(store_url) as a:
        admin = P("admin", "c1")
        stranger = "13700000000"  # never reported anything
        r = a.client.post("/privacy/erasures", json={"phone": stranger}, headers=a.h(admin))
        assert r.json() == {"erased": False}
        with a.container.db.transaction(write=False) as cur:
            cur.execute("SELECT subject FROM gridflow_subject_keys")
            subjects = {row[0] for row in cur.fetchall()}
        assert len(subjects) == 1 and source_salted(stranger) not in subjects
        later = a.report(RESIDENT, reporter={"phone": stranger})["id"]
        assert reporter_of(a, later) == {"erased": True}


def test_stored_payloads_go_to_auditors_only(store_url: str):
    with api(store_url) as a:
        i = a.report(RESIDENT, reporter={"phone": PHONE})["id"]
        a.container.audit.catch_up()
        for who, shows_stored in (
            (P("auditor", "c1"), True),
            (P("city_supervisor", "c1"), False),
            (P("admin", "c1"), False),
        ):
            r = a.client.get(f"/audit/events?issue={i}", headers=a.h(who))
            reporter = r.json()["items"][0]["data"]["reporter"]
            if shows_stored:
                assert reporter["subject"].startswith("hmac:") and "sealed" in reporter
            else:
                assert reporter == {"hidden": True}


def started(settings: Settings) -> None:
    """A process of the service started (its parts built, as `gridflow serve` does)."""
    c = Container(settings)
    try:
        c.services()
    finally:
        c.close()


def test_a_process_with_another_subject_key_refuses_to_start(store_url: str, tmp_path: Path):
    settings = Settings(database_url=store_url, subject_key=KEY, audit_key_file=str(tmp_path / "a"))
    started(settings)
    started(settings)  # the same key again: fine
    other = base64.b64encode(b"o" * 32).decode()
    with pytest.raises(ValueError, match="another subject key"):
        started(Settings(database_url=store_url, subject_key=other))


def test_the_embedded_store_keeps_its_subject_key_beside_the_file(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/city.db"
    started(Settings(database_url=url))
    key_file = tmp_path / "city.db.subject-key"
    assert key_file.exists() and key_file.stat().st_mode & 0o077 == 0
    started(Settings(database_url=url))  # found again on the next start


def test_postgresql_refuses_to_start_without_a_configured_subject_key():
    env = {
        "GRIDFLOW_DATABASE_URL": "postgresql://postgres@localhost:5432/x",
        "GRIDFLOW_AUDIT_KEY": base64.b64encode(b"a" * 32).decode(),
        "GRIDFLOW_EVIDENCE_DIR": "/srv/shared/evidence",
    }
    with pytest.raises(ValueError, match="GRIDFLOW_SUBJECT_KEY"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "GRIDFLOW_SUBJECT_KEY": KEY}).subject_key == KEY
    beside = Settings.from_env({**env, "GRIDFLOW_AUDIT_KEY_FILE": "/etc/gridflow/audit.key"})
    assert beside.subject_key is None  # kept beside the audit key (gridflow/container.py)
    assert Settings.from_env({"GRIDFLOW_DATABASE_URL": "sqlite:///x.db"}).subject_key is None
    _ = WORKER
