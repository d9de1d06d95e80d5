"""Backends for the integration tests: SQLite in a temporary file, and a fresh
database on the real PostgreSQL server for each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import pytest

if os.environ.get("GRIDFLOW_MUTATION"):
    # Under `make mutation` a mutant that breaks a property fails at its first falsifying
    # example: no shrinking (minutes per mutant), the same examples every run.
    from hypothesis import Phase, settings

    settings.register_profile(
        "mutation",
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        derandomize=True,
        database=None,
    )
    settings.load_profile("mutation")

POSTGRES_URL = os.environ.get(
    "GRIDFLOW_TEST_POSTGRES_URL", "postgresql://postgres@localhost:5432/test"
)


def _postgres_unavailable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except Exception as exc:  # any failure to connect means: not here
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc.__class__.__name__}: {exc})"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    why = _postgres_unavailable()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the PostgreSQL tests must run under CI: {why}")
        pytest.skip(why)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database for one test, dropped afterwards."""
    import psycopg

    name = f"gridflow_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlparse(postgres_server)
    yield urlunparse(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: Fixtures that need a PostgreSQL server: a test that uses one is marked `postgres`, so
#: that `pytest -m "not postgres"` runs the rest (the SQLite side of every store test).
POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_url", "own_postgres"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """Each integration test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/gridflow.db"
    return str(request.getfixturevalue("postgres_url"))
