"""What `gridflow serve` and `gridflow token create` print and refuse at start."""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from gridflow import demo, serve
from gridflow.cli import main
from gridflow.container import Container
from gridflow.settings import Settings


@pytest.fixture
def no_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` up to the point where it would listen (and run the in-process workers)."""
    monkeypatch.setattr(serve.uvicorn, "run", lambda *a, **kw: None)
    monkeypatch.setattr(serve, "run_workers", lambda *a, **kw: None)


@pytest.fixture
def sqlite_env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/start.db"
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", url)
    return url


def _tokens(out: str) -> list[str]:
    return [word for word in out.split() if word.startswith("gf_")]


def test_demo_tokens_are_printed_on_the_first_start_of_a_fresh_store_only(
    sqlite_env: str, no_listening: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "0"]) == 0
    first = capsys.readouterr().out
    assert "demo city loaded" in first
    admin = [line for line in first.splitlines() if line.strip().startswith("admin ")]
    assert len(admin) == 1 and _tokens(admin[0])
    assert len(_tokens(first)) == len(demo.PRINCIPALS)

    assert main(["serve", "--port", "0"]) == 0  # the same store, started again
    again = capsys.readouterr().out
    assert _tokens(again) == []
    assert "gridflow token create" in again
    assert main(["serve", "--port", "0", "--demo"]) == 0
    assert _tokens(capsys.readouterr().out) == []


def test_a_store_with_a_real_organisation_never_gets_demo_tokens(
    sqlite_env: str, no_listening: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    org = tmp_path / "org.json"
    org.write_text(json.dumps(demo.organisation()))
    assert main(["org", "load", str(org)]) == 0
    assert main(["serve", "--port", "0"]) == 0
    assert main(["serve", "--port", "0", "--demo"]) == 0
    assert _tokens(capsys.readouterr().out) == []
    assert main(["demo"]) == 2
    captured = capsys.readouterr()
    assert _tokens(captured.out) == [] and "already holds an organisation" in captured.err
    c = Container(Settings(database_url=sqlite_env))
    assert c.tokens.list() == []
    c.close()


def test_the_start_banner_never_shows_the_database_password(
    postgres_url: str,
    no_listening: None,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parts = urlsplit(postgres_url)  # the test server trusts local users: any password works
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:s3cr3t-pw@{host}"))
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", url)
    monkeypatch.setenv("GRIDFLOW_AUDIT_KEY_FILE", str(tmp_path / "audit.key"))
    monkeypatch.setenv("GRIDFLOW_AUDIT_ORIGIN", "gridflow")
    monkeypatch.setenv("GRIDFLOW_EVIDENCE_DIR", str(tmp_path / "evidence"))
    assert main(["serve", "--port", "0", "--no-demo"]) == 0
    out = capsys.readouterr().out
    assert "listening on" in out
    assert "s3cr3t-pw" not in out and ":***@" in out


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--expires", "0m"], "expiry must be positive"),
        (["--expires", "0d"], "expiry must be positive"),
        (["--expires", ""], "a duration such as"),
        (["--expires", "5000d"], "at most 366d"),
        (["--role", "system"], "never minted"),
        (["--scope", "atlantis"], "not an organisation node id or a department id"),
    ],
)
def test_token_create_refuses_what_no_one_should_hold(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    assert main(["demo"]) == 0
    capsys.readouterr()
    base = {"--principal": "p1", "--role": "grid_worker", "--scope": demo.GRID, "--expires": "1d"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["token", "create", *[x for kv in base.items() for x in kv]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert _tokens(captured.out) == []
    assert len(captured.err.strip().splitlines()) == 1 and problem in captured.err
    c = Container(Settings(database_url=sqlite_env))
    assert "p1" not in {t.principal.id for t in c.tokens.list()}
    c.close()


def test_token_create_mints_for_a_department_and_a_node(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    for role, scope in (("department_officer", "housing"), ("grid_worker", demo.GRID)):
        argv = ["token", "create", "--principal", "p2", "--role", role, "--scope", scope]
        assert main(argv) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1].startswith("gf_")


@pytest.mark.parametrize(
    ("configured", "missing"),
    [
        ({}, "GRIDFLOW_AUDIT_KEY"),
        ({"GRIDFLOW_AUDIT_KEY_FILE": "audit.key"}, "GRIDFLOW_EVIDENCE_DIR"),
        ({"GRIDFLOW_EVIDENCE_DIR": "evidence"}, "GRIDFLOW_AUDIT_KEY"),
    ],
)
def test_postgres_refuses_to_start_without_a_shared_key_and_evidence_storage(
    postgres_url: str,
    no_listening: None,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    configured: dict[str, str],
    missing: str,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", postgres_url)
    for name in ("GRIDFLOW_AUDIT_KEY", "GRIDFLOW_AUDIT_KEY_FILE", "GRIDFLOW_EVIDENCE_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in configured.items():
        monkeypatch.setenv(name, str(tmp_path / value))
    for argv in (["serve", "--no-demo"], ["token", "list"], ["audit", "verify"]):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert "listening" not in captured.out
        assert len(captured.err.strip().splitlines()) == 1 and missing in captured.err
    assert list(work.iterdir()) == []  # no key, no evidence directory made up here


def test_postgres_starts_with_a_configured_key_and_evidence_dir(
    postgres_url: str,
    no_listening: None,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("GRIDFLOW_DATABASE_URL", postgres_url)
    monkeypatch.setenv("GRIDFLOW_AUDIT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    monkeypatch.setenv("GRIDFLOW_AUDIT_ORIGIN", "gridflow")
    monkeypatch.setenv("GRIDFLOW_EVIDENCE_DIR", str(tmp_path / "shared-evidence"))
    monkeypatch.setenv("GRIDFLOW_SUBJECT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    assert main(["serve", "--no-demo"]) == 0
    assert "listening on" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert list(work.iterdir()) == []


def test_an_s3_bucket_without_boto3_installed_is_a_one_line_error_at_start(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` fails as if missing
    monkeypatch.setenv("GRIDFLOW_EVIDENCE_S3_BUCKET", "evidence")
    assert main(["demo"]) == 2  # a command that needs the evidence store (serve builds all)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'gridflow[s3]'" in err
