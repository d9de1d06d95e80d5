"""`gridflow serve`: the HTTP service (with SQLite, the workers run in-process)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading

import uvicorn

from api.app import create_app
from gridflow.container import Container
from gridflow.settings import Settings
from gridflow.startup import (
    TOKEN_HINT,
    load_demo,
    mint_demo_tokens,
    print_tokens,
    reachable,
    redacted,
)
from workers.runner import run as run_workers


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    settings = Settings.from_env()
    reachable(settings.database_url)
    c = Container(settings)
    empty = c.service.org().version == 0
    wants_demo = args.demo or (empty and settings.is_sqlite and not args.no_demo)
    if wants_demo and empty:
        # Demo tokens only for a demo loaded just now: a store that already existed may
        # hold a real organisation, and its admin token must never reach a terminal.
        load_demo(c)
        print_tokens(mint_demo_tokens(c))
    elif wants_demo:
        print("the store already holds an organisation: demo not loaded again")
    if not (wants_demo and empty):
        print(f"tokens: {TOKEN_HINT}")
    store = "SQLite" if settings.is_sqlite else "PostgreSQL"
    print(
        f"gridflow listening on http://{args.host}:{args.port} ({store}: "
        f"{redacted(settings.database_url)}); API docs at /docs",
        flush=True,
    )
    if args.workers > 1:
        if settings.is_sqlite:
            raise ValueError("--workers needs PostgreSQL (SQLite has one writer)")
        c.close()
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # One set of counters for all the processes (GET /metrics sums them): the
            # variable must be there before a worker imports prometheus_client.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridflow-metrics-")
        uvicorn.run(
            "gridflow.serve:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,
        )
        return 0
    app = create_app(c.services())
    stop = threading.Event()
    if settings.is_sqlite:  # SQLite has no advisory locks: one worker set, in-process
        threading.Thread(
            target=run_workers, args=(c.workers(), c.db, stop), daemon=True, name="workers"
        ).start()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        stop.set()
        c.close()
    return 0


def app_from_env() -> object:
    """The app for each of uvicorn's worker processes (`serve --workers N`)."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    return create_app(Container(Settings.from_env()).services())
