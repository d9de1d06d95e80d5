"""The notifier: queues deliveries from the log (the outbox), then sends them.

Each delivery is an HTTP POST of JSON, signed `X-Gridflow-Signature: sha256=<HMAC-SHA256
of the body with the subscription's secret>` and with the Standard Webhooks headers
(`webhook-id`, `webhook-timestamp`, `webhook-signature`; projections/webhooks.py), at
least once and in log order per issue (a failing delivery holds back the later ones of
the same issue), retried with exponential back-off. Each attempt resolves the target's
host, refuses it if any address is one the service must not call, and connects to the
address it checked. Every attempt is recorded (`GET /subscriptions/{id}/deliveries`).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from domain.service import IssueService
from projections.outbox import Outbox
from projections.reader import ViewReader
from projections.records import utc
from projections.webhooks import (
    TargetRefused,
    signature,
    standard_signature,
    webhook_id,
)
from workers.loop import run, waiting


class Notifier:
    name = "notifications"

    def __init__(
        self,
        outbox: Outbox,
        service: IssueService,
        views: ViewReader,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        timeout: float = 5.0,
    ) -> None:
        self.outbox, self.service, self.views = outbox, service, views
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def queue(self) -> int:
        """Queue deliveries for new events, and for deadlines at 75% of their limit."""
        org = self.service.org()
        total = self.outbox.catch_up(org.covers)
        self.outbox.queue_warnings(self.views.warnings(self.service.clock()), org.covers)
        return total

    def deliver(self) -> int:
        """Send what is due; how many were acknowledged."""
        sent = 0
        while due := self.outbox.due(utc(datetime.now(UTC))):
            progressed = False
            for d in due:
                ok = self._send(d)
                sent += ok
                progressed = progressed or ok
            if not progressed:
                break
        return sent

    def _send(self, d: dict[str, Any]) -> bool:
        body = json.dumps(
            {
                "delivery_id": d["delivery_key"],
                "subscription_id": d["subscription_id"],
                **json.loads(d["payload"]),
            },
            ensure_ascii=False,
        ).encode()
        msg_id, stamp = webhook_id(d["subscription_id"], d["delivery_key"]), int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Gridflow-Signature": signature(d["secret"], body),
            "X-Gridflow-Delivery": d["delivery_key"],
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_signature(d["secret"], msg_id, stamp, body),
        }
        code: int | None = None
        error: str | None = None
        try:
            code = self._post(d["url"], body, headers)
        except TargetRefused as exc:  # never connected: nothing learnt about the target
            error = f"refused: {exc}"
        except (OSError, UnicodeError) as exc:  # the host does not resolve
            error = f"unresolved: {exc}"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"
        ok = code is not None and 200 <= code < 300
        if not ok and error is None:
            error = f"HTTP {code}"
        delay = min(self.backoff_base * 2 ** int(d["attempts"]), self.backoff_max)
        self.outbox.record(d, ok, code, error, utc(datetime.now(UTC) + timedelta(seconds=delay)))
        return ok

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST to the address the host resolves to now, once it is checked: a name
        pointed elsewhere between the check and the connection is not followed. The
        name still goes in `Host` and, for https, in TLS (SNI and the certificate)."""
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        address = self.outbox.targets.addresses(host, port)[0]
        return self.client.post(
            target.copy_with(host=str(address)),
            content=body,
            headers={**headers, "Host": target.netloc.decode("ascii")},
            extensions={"sni_hostname": host} if target.scheme == "https" else None,
        ).status_code

    def step(self) -> int:
        return self.queue() + self.deliver()

    def follow(
        self, stop: threading.Event, wake: threading.Event | None = None, poll: float = 0.5
    ) -> None:
        wait, close = waiting(stop, wake)
        try:
            run(self.name, self.step, stop, wait, poll)
        finally:
            close()
