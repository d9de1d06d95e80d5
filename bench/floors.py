"""What every benchmark shares: a fresh database, the raw insert floor, percentiles."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid

import psycopg

SERVER = "postgresql://postgres@localhost:5432/postgres"


def bench_shared(key_file: str = "/tmp/bench.key") -> dict[str, str]:
    """What every process on PostgreSQL must be given (the service refuses to start
    without): one signing key and one evidence directory, shared by the benchmark's
    processes as they would be by a deployment's hosts, and the log's name in its
    checkpoints (a new PostgreSQL log has none)."""
    return {
        "GRIDFLOW_AUDIT_KEY_FILE": key_file,
        "GRIDFLOW_EVIDENCE_DIR": "/tmp/bench-evidence",
        "GRIDFLOW_AUDIT_ORIGIN": "bench.gridflow",
    }


def fresh_database(name: str) -> str:
    """Drop and create database `name` on the machine's server; its URL."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@localhost:5432/{name}"


def raw_floor(url: str, connections: int, seconds: float = 5.0) -> float:
    """Single-row INSERT commits per second by psycopg into a table shaped like the log."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS floor_events")
        conn.execute(
            "CREATE TABLE floor_events (originator_id uuid, originator_version bigint, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
    count = [0] * connections
    stop = time.monotonic() + seconds
    state = os.urandom(600)

    def run(k: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < stop:
                conn.execute(
                    "INSERT INTO floor_events (originator_id, originator_version, topic, "
                    "state) VALUES (%s, 1, 'x', %s)",
                    (uuid.uuid4(), state),
                )
                count[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / seconds


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of samples in seconds."""
    if len(samples) < 100:
        return {"n": len(samples)}
    q = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(q[49] * 1000, 2),
        "p95_ms": round(q[94] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "n": len(samples),
    }
