"""What `gridflow serve` and the other commands share at start: the store reachable
(or one line saying why not), the demo city and its tokens, the version, a URL fit to
print."""

from __future__ import annotations

from importlib import metadata
from urllib.parse import urlsplit, urlunsplit

import psycopg

from gridflow import demo
from gridflow.container import Container
from stores.eventstore import store_env
from stores.tokens import parse_duration

TOKEN_HINT = "gridflow token create --principal ID --role ROLE --scope NODE_OR_DEPARTMENT"


def version() -> str:
    """The installed distribution's version (the source tree's, when not installed)."""
    try:
        return metadata.version("gridflow")
    except metadata.PackageNotFoundError:
        return "unknown"


def redacted(url: str) -> str:
    """The database URL without its password, for banners and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def mint_demo_tokens(c: Container) -> dict[str, str]:
    expires = parse_duration("30d")
    return {role: c.tokens.create(p, expires) for role, p in demo.PRINCIPALS.items()}


def print_tokens(tokens: dict[str, str]) -> None:
    print("Tokens, one per role (Authorization: Bearer <token>):")
    for role, token in tokens.items():
        p = demo.PRINCIPALS[role]
        print(f"  {role:<19} {p.id:<22} scope={p.scope:<18} {token}")


def load_demo(c: Container) -> None:
    counts = demo.load(c.service, c.now())
    print("demo city loaded: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


def reachable(url: str) -> None:
    """Fail at once, in one line (main), when PostgreSQL does not answer: the pools
    would otherwise retry for seconds and log every attempt."""
    if url.startswith("postgres"):
        env = store_env(url)
        psycopg.connect(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=3,
        ).close()
