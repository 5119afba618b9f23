"""Todoist's webhooks, answered by a reconcile of the user: never by acting on the event.

Todoist posts `{"event_name", "user_id", "event_data", ...}` for every change in the account of a
user who connected through OAuth, signed with `X-Todoist-Hmac-SHA256` (base64 HMAC-SHA256 of the
raw body, keyed with the client secret) and named by `X-Todoist-Delivery-ID`. Deliveries may be
retried, duplicated, reordered, late or lost (Todoist: "use only as notifications"), so an event
only says *look*: the reconcile reads Todoist's state and the coexistence rules decide.

`webhook_receive` does, in milliseconds and without a request to Todoist:
- a delivery not signed with our secret is rejected (403), in constant time;
- a delivery id seen before is ignored (a repeat);
- the event's `user_id` finds the users whose token opens that Todoist account; none: ignored;
- an item no mapping of theirs knows is ignored, and so is an echo of the sync's own write (the
  item as Todoist shows it equals what we pushed, or are pushing; a project of ours still
  named as we made it);
- anything else queues a reconciling run of the user through `sync_enqueue` (one queued run per
  user, debounced), which reads what Todoist holds now, whatever order the events came in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import (
    TodoistAccount,
    TodoistCredential,
    TodoistProject,
    TodoistTaskMap,
    TodoistWebhookCounter,
    TodoistWebhookDelivery,
)
from todoist_sync.services.enqueue import sync_enqueue
from todoist_sync.services.projects import INBOX
from todoist_sync.services.reconcile import drifted_fields, remote_snapshot

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Todoist-Hmac-SHA256"
DELIVERY_HEADER = "X-Todoist-Delivery-ID"
# Todoist retries a failed delivery 3 times, 15 minutes apart: two days of ids is plenty.
DELIVERY_RETENTION = timedelta(days=2)
TRIGGER = "webhook"


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # a reconcile of the user is queued
    IGNORED = "ignored"  # a repeat, an echo, an item or user nobody here knows
    REJECTED = "rejected"  # not signed with our secret, or not an event


@dataclass(frozen=True)
class WebhookResult:
    outcome: Outcome
    reason: str
    status: int = 200


def signature_valid(*, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(
        hmac.new(conf.TODOIST_CLIENT_SECRET.encode(), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), (signature or "").encode())


def webhook_receive(*, body: bytes, signature: str, delivery_id: str) -> WebhookResult:
    """One delivery: verified, deduplicated, mapped to users, maybe a queued reconcile."""
    if not conf.oauth_enabled:
        return WebhookResult(Outcome.REJECTED, "webhooks are off here", status=404)
    if not signature_valid(body=body, signature=signature):
        counter_add(Outcome.REJECTED)
        return WebhookResult(Outcome.REJECTED, "bad signature", status=403)
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("event_data"), dict):
        counter_add(Outcome.REJECTED)
        return WebhookResult(Outcome.REJECTED, "not an event", status=400)
    with transaction.atomic():
        result = _receive(event, delivery_id)
    counter_add(result.outcome)
    return result


def _receive(event: dict[str, Any], delivery_id: str) -> WebhookResult:
    if delivery_id and not delivery_first_seen(delivery_id):
        return WebhookResult(Outcome.IGNORED, "repeated delivery")
    credentials = list(
        TodoistCredential.objects.filter(todoist_user_id=str(event.get("user_id") or ""))
        .exclude(todoist_user_id="")
        .select_related("user")
    )
    if not credentials:
        return WebhookResult(Outcome.IGNORED, "unknown Todoist user")
    users = {c.user_id: c.user for c in credentials}
    name = str(event.get("event_name") or "")
    data = event["event_data"]
    if name.startswith("item:"):
        to_reconcile = changed_item_users(users=list(users), item=data)
    elif name.startswith("project:"):
        to_reconcile = changed_project_users(users=list(users), project=data)
    else:
        to_reconcile = set()
    now = timezone.now()
    accepted = []
    for user_id in sorted(to_reconcile):
        try:
            sync_enqueue(user=users[user_id], trigger=TRIGGER, reconcile=True)
        except NoTodoistToken:
            continue
        accepted.append(user_id)
    ignored = [u for u in users if u not in accepted]
    TodoistCredential.objects.filter(user_id__in=accepted).update(
        webhook_at=now, webhooks_accepted=F("webhooks_accepted") + 1
    )
    TodoistCredential.objects.filter(user_id__in=ignored).update(
        webhook_at=now, webhooks_ignored=F("webhooks_ignored") + 1
    )
    if accepted:
        return WebhookResult(Outcome.ACCEPTED, "reconcile queued")
    return WebhookResult(Outcome.IGNORED, "an echo of our own write, or nothing of ours")


def delivery_first_seen(delivery_id: str) -> bool:
    try:
        with transaction.atomic():
            TodoistWebhookDelivery.objects.create(
                delivery_id=delivery_id[:128], received_at=timezone.now()
            )
    except IntegrityError:
        return False
    return True


def changed_item_users(*, users: list[int], item: dict[str, Any]) -> set[int]:
    """The users whose mapping of this item differs from what we pushed (or are pushing)."""
    item_id = str(item.get("id") or "")
    if not item_id:
        return set()
    mappings = list(
        TodoistTaskMap.objects.filter(user_id__in=users, todoist_task_id=item_id).select_related(
            "account"
        )
    )
    changed = set()
    for mapping in mappings:
        if not is_echo(mapping, item):
            changed.add(mapping.user_id)
    return changed


def is_echo(mapping: TodoistTaskMap, item: dict[str, Any]) -> bool:
    """Whether Todoist shows the item as the sync left it (or is leaving it): our own write."""
    if item.get("is_deleted"):
        return False
    names = project_names(mapping.account)
    remote = remote_snapshot(item, project_names=names)
    targets = [mapping.pushed, (mapping.inflight or {}).get("achieved")]
    return any(isinstance(t, dict) and not drifted_fields(t, remote) for t in targets)


def project_names(account: TodoistAccount | None) -> dict[str, str]:
    if account is None:
        return {}
    names = dict(
        TodoistProject.objects.filter(account=account, todoist_project_id__isnull=False)
        .values_list("todoist_project_id", "name")
        .order_by()
    )
    if account.inbox_project_id:
        names[account.inbox_project_id] = INBOX
    return names


def changed_project_users(*, users: list[int], project: dict[str, Any]) -> set[int]:
    """The users with a project of this id that is no longer as we made it: renamed, deleted
    or archived. Our own project as we named it (the echo of our project_add) is nothing."""
    gone = bool(project.get("is_deleted") or project.get("is_archived"))
    rows = TodoistProject.objects.filter(
        account__user_id__in=users, todoist_project_id=str(project.get("id"))
    ).values_list("account__user_id", "name")
    return {user_id for user_id, name in rows if gone or name != project.get("name")}


def counter_add(outcome: Outcome) -> None:
    now = timezone.now()
    updated = TodoistWebhookCounter.objects.filter(name=outcome).update(
        count=F("count") + 1, last_at=now
    )
    if not updated:
        try:
            with transaction.atomic():
                TodoistWebhookCounter.objects.create(name=outcome, count=1, last_at=now)
        except IntegrityError:  # created meanwhile by another delivery
            TodoistWebhookCounter.objects.filter(name=outcome).update(
                count=F("count") + 1, last_at=now
            )


def webhook_counters() -> dict[str, Any]:
    """Deliveries by outcome, and when the last one came (for /metrics and the status)."""
    rows = {row.name: row for row in TodoistWebhookCounter.objects.all()}
    figures: dict[str, Any] = {o.value: rows[o].count if o in rows else 0 for o in Outcome}
    stamps = [row.last_at for row in rows.values() if row.last_at]
    figures["last_at"] = max(stamps) if stamps else None
    return figures


def deliveries_prune() -> int:
    deleted, _ = TodoistWebhookDelivery.objects.filter(
        received_at__lt=timezone.now() - DELIVERY_RETENTION
    ).delete()
    return deleted
