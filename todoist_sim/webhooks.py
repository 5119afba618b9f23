"""Signed webhook deliveries of the local Todoist simulator (NOT Todoist itself).

Todoist posts an event to the app's one webhook URL for every change in the account of a user
who authorized the app through OAuth: people's edits and the app's own writes alike (whether
echoes are sent is undocumented: the worst case is that they are). Each POST is
`{"event_name", "user_id", "event_data", "initiator", "version", "triggered_at"}` with
`X-Todoist-Hmac-SHA256` (base64 HMAC-SHA256 of the raw body, keyed with the client secret) and
`X-Todoist-Delivery-ID`. Todoist's own words: they "could arrive out of order or could even fail
to arrive". By default this dispatcher does the worst of that: each delivery is delayed by a
random time (so they arrive reordered), some are sent twice, some never. Seeded, switchable
(`WebhookConfig`). A delivery the app answers with an error is retried (`retries` times).

Standard library only; token values are never sent or logged here.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import heapq
import hmac
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from todoist_sim.store.model import Account

SIGNATURE_HEADER = "X-Todoist-Hmac-SHA256"
DELIVERY_HEADER = "X-Todoist-Delivery-ID"


def sign(body: bytes, secret: str) -> str:
    """Todoist's signature of a delivery: base64 of HMAC-SHA256(secret, raw body)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class WebhookConfig:
    """Where deliveries go and how badly they travel (defaults: the documented worst case)."""

    url: str | None = None
    # Each delivery waits a random time up to this long: later events can overtake earlier ones.
    max_delay_ms: float = 800.0
    # Fraction of deliveries sent a second time (same delivery id), after their own delay.
    duplicate_rate: float = 0.2
    # Fraction of deliveries never sent.
    lost_rate: float = 0.02
    # Retries of a delivery the app answered with an error (Todoist: 3, 15 minutes apart).
    retries: int = 3
    retry_seconds: float = 900.0
    seed: int | None = 1

    def validate(self) -> None:
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        for name in ("duplicate_rate", "lost_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in ("max_delay_ms", "retry_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError("retries must be an integer >= 0")


class WebhookDispatcher:
    """Turns account changes into deliveries, and sends them from a thread of its own."""

    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.config = WebhookConfig()
        self.connected: set[str] = set()  # names of the accounts authorized through OAuth
        self.stats = dict.fromkeys(("events", "sent", "duplicated", "lost", "failed", "retried"), 0)
        self._rng = random.Random(self.config.seed)
        self._seen: set[tuple[str, str]] = set()  # (account, item id): an item:added was sent
        self._queue: list[tuple[float, int, bytes, str, int]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def configure(self, **changes: Any) -> WebhookConfig:
        known = {f.name for f in dataclasses.fields(WebhookConfig)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown webhook field(s): {', '.join(unknown)}")
        new = dataclasses.replace(self.config, **changes)
        new.validate()
        with self._cond:
            self.config = new
            if "seed" in changes:
                self._rng = random.Random(new.seed)
        return new

    # ----- events (called under the simulator's state lock: no I/O here) ------

    def on_change(self, account: Account, resource: str, object_id: str) -> None:
        if account.name not in self.connected or not self.config.url or not self.secret:
            return
        if resource == "items":
            obj = account.tasks.get(object_id)
            name = self._item_event(account, obj) if obj else None
        else:
            obj = account.projects.get(object_id)
            name = "project:deleted" if obj and obj.get("is_deleted") else "project:updated"
        if obj is None or name is None:
            return
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        event = {
            "event_name": name,
            "user_id": account.user_id,
            "event_data": copy.deepcopy(obj),
            "initiator": {"id": account.user_id},
            "version": "10",
            "triggered_at": now,
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        self.stats["events"] += 1
        self._schedule(body, uuid.uuid4().hex, attempt=0)

    def _item_event(self, account: Account, task: dict[str, Any]) -> str:
        key = (account.name, task["id"])
        if task.get("is_deleted"):
            return "item:deleted"
        if key not in self._seen:
            self._seen.add(key)
            return "item:added"
        return "item:completed" if task.get("checked") else "item:updated"

    def _schedule(self, body: bytes, delivery_id: str, *, attempt: int) -> None:
        config = self.config
        with self._cond:
            if attempt == 0 and self._rng.random() < config.lost_rate:
                self.stats["lost"] += 1
                return
            copies = 1
            if attempt == 0 and self._rng.random() < config.duplicate_rate:
                copies = 2
                self.stats["duplicated"] += 1
            base = time.monotonic() + (config.retry_seconds if attempt else 0)
            for _ in range(copies):
                due = base + self._rng.random() * config.max_delay_ms / 1000
                self._seq += 1
                heapq.heappush(self._queue, (due, self._seq, body, delivery_id, attempt))
            self._cond.notify()

    # ----- the sending thread -------------------------------------------------

    def start(self) -> None:
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="todoist-sim-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stopped:
                    return
                _, _, body, delivery_id, attempt = heapq.heappop(self._queue)
                url, secret, retries = self.config.url, self.secret, self.config.retries
            if url and not self._post(url, body, delivery_id, secret):
                with self._cond:
                    self.stats["failed"] += 1
                if attempt < retries:
                    with self._cond:
                        self.stats["retried"] += 1
                    self._schedule(body, delivery_id, attempt=attempt + 1)

    def _post(self, url: str, body: bytes, delivery_id: str, secret: str) -> bool:
        # The URL is checked to be http(s) when configured (WebhookConfig.validate).
        request = urllib.request.Request(  # noqa: S310
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, secret),
                DELIVERY_HEADER: delivery_id,
                "User-Agent": "Todoist-Webhooks (todoist_sim)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                ok = 200 <= answer.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            ok = False
        if ok:
            with self._cond:
                self.stats["sent"] += 1
        return ok
