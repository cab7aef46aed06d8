"""Impacts to tickets: an example ITSM consumer of correlator's ``impacts`` topic.

Reads impact events and keeps one ticket per ``incident_key``: opened on
``impact.opened``, updated on ``impact.updated``, closed on ``impact.resolved``.
The ticket store is a JSON file standing in for the ITSM tool's API; the comments
marked ``ITSM:`` say what a ServiceNow or Jira integration does there instead.

    python deploy/itsm/impacts_to_tickets.py --bootstrap HOST:PORT --topic impacts \\
        --group itsm --store tickets.json

Why tickets come out right even though Kafka delivers at least once:

* Offsets are committed only after the store is saved. A consumer that dies in
  between reads those events again on restart; nothing is lost.
* ``apply`` drops an event whose ``event_id`` the ticket already took (correlator
  makes the id deterministic for that reason), so events read again, or sent
  twice by a worker that restarted, change nothing.
* Events are keyed by business service, so one service's events come in order,
  and one incident's (its ``incident_key``) with them.
* A consumer started late (or with a store that was lost) may first see an
  incident's ``impact.updated`` or ``impact.resolved``: it opens the ticket from
  it, or records it closed, rather than dropping it.

``apply`` decides and holds no I/O; ``run`` does the I/O. Needs Python 3.11+ and
aiokafka (installed with correlator).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

log = logging.getLogger("impacts_to_tickets")

OPENED, UPDATED, RESOLVED = "impact.opened", "impact.updated", "impact.resolved"


class Ticket(TypedDict):
    """One incident's ticket, as the store keeps it (ITSM: the incident or issue record)."""

    incident_key: str
    """The correlation id: ServiceNow ``correlation_id``, a Jira issue property or label."""
    state: str
    """``open`` or ``closed``."""
    business_service: str
    service_name: str
    priority: str
    """P1..P4 (ServiceNow: impact and urgency; Jira: priority)."""
    status: str
    """The business service's health: ``down``, ``degraded`` or ``ok``."""
    root_cause: str | None
    summary: str
    opened_at: str | None
    updated_at: str | None
    resolved_at: str | None
    event_ids: list[str]
    """Every event applied to this ticket: how repeats are recognised."""
    notes: list[str]
    """Work notes, one per event applied."""


Tickets = dict[str, Ticket]


class Action(StrEnum):
    """What one event does to the tickets; ``decide`` says which, with why."""

    CREATE = "create"
    UPDATE = "update"
    CLOSE = "close"
    CREATE_CLOSED = "create_closed"
    REPEAT = "repeat"
    AFTER_CLOSE = "after_close"
    IGNORE = "ignore"


UNCHANGED = frozenset({Action.REPEAT, Action.AFTER_CLOSE, Action.IGNORE})
"""Actions that leave the tickets as they are."""


def decide(ticket: Ticket | None, event: Mapping[str, Any]) -> Action:
    """The action for ``event`` given the ticket of its ``incident_key`` (None if none yet)."""
    kind = event.get("type")
    if kind not in (OPENED, UPDATED, RESOLVED):
        # Not an impact event this consumer knows (a newer schema's type, say): left alone.
        return Action.IGNORE
    if ticket is not None and event["event_id"] in ticket["event_ids"]:
        # Read again after a restart before the commit, or sent twice: already applied.
        return Action.REPEAT
    if ticket is not None and ticket["state"] == "closed":
        # An incident key is never reused once resolved (a new episode gets a new key), so
        # this can only be a stray; the closed ticket stays as it is.
        return Action.AFTER_CLOSE
    if kind == RESOLVED:
        # Closes the ticket; with none yet (the consumer started after the incident
        # opened), the incident is put on file closed.
        return Action.CLOSE if ticket is not None else Action.CREATE_CLOSED
    if ticket is None:
        # impact.opened, or the first event seen of an incident opened before we started.
        return Action.CREATE
    return Action.UPDATE


def apply(tickets: Mapping[str, Ticket], event: Mapping[str, Any]) -> Tickets:
    """The tickets after ``event``: a new mapping; ``tickets`` is left as it was."""
    key = event.get("incident_key", "")
    ticket = tickets.get(key)
    action = decide(ticket, event)
    if action in UNCHANGED:
        return dict(tickets)
    changed = _from_event(ticket, event, action)
    return {**tickets, key: changed}


def _from_event(ticket: Ticket | None, event: Mapping[str, Any], action: Action) -> Ticket:
    service = event["business_service"]
    root_cause = (event.get("root_cause") or {}).get("node")
    opened_at = ticket["opened_at"] if ticket is not None else event.get("opened_at")
    note = f"{event.get('updated_at')} {event['type']}: {event.get('summary', '')}".strip()
    if action in (Action.CREATE, Action.CREATE_CLOSED) and event["type"] != OPENED:
        note += f" (first event seen of this incident was {event['type']})"
    closing = action in (Action.CLOSE, Action.CREATE_CLOSED)
    return {
        "incident_key": event["incident_key"],
        "state": "closed" if closing else "open",
        "business_service": service["id"],
        "service_name": service.get("name", service["id"]),
        "priority": event["priority"],
        "status": event["status"],
        "root_cause": root_cause,
        "summary": event.get("summary", ""),
        "opened_at": opened_at,
        "updated_at": event.get("updated_at"),
        "resolved_at": event.get("resolved_at") if closing else None,
        "event_ids": [*(ticket["event_ids"] if ticket else []), event["event_id"]],
        "notes": [*(ticket["notes"] if ticket else []), note],
    }


# ---- I/O: the store (the ITSM stand-in) and the Kafka consumer ----


def load(store: Path) -> Tickets:
    if not store.exists():
        return {}
    tickets: Tickets = json.loads(store.read_text())
    return tickets


def save(store: Path, tickets: Mapping[str, Ticket]) -> None:
    """Written whole to a temporary file, then renamed: a crash leaves the old or the new."""
    store.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=store.parent, delete=False, suffix=".tmp") as out:
        json.dump(tickets, out, indent=2, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(out.name, store)


def sync(action: Action, ticket: Ticket) -> None:
    """Tell the ITSM tool; here only a log line, as the JSON store is the tool.

    ITSM: a real integration calls the tool's API here, idempotently by incident_key,
    because a crash after the call and before the commit replays the event:
      CREATE / CREATE_CLOSED: ServiceNow: GET /api/now/table/incident?correlation_id=<key>
        and, if none, POST /api/now/table/incident {short_description: summary,
        correlation_id: key, impact/urgency from priority, cmdb_ci: business service}
        (state 6 "Resolved" at once for CREATE_CLOSED). Jira: search by the issue
        property (or label) holding the key, else POST /rest/api/3/issue.
      UPDATE: PATCH the record's priority and add a work note (Jira: PUT the issue,
        POST a comment).
      CLOSE: set state Resolved with close_code and close_notes (Jira: POST a
        transition to Done).
    Raise on failure: the batch is then not committed and is read again.
    """
    log.info(
        "%s %s: %s %s %s",
        action.value,
        ticket["incident_key"],
        ticket["state"],
        ticket["priority"],
        ticket["status"],
    )


def parse(value: bytes | None) -> dict[str, Any] | None:
    """An impact event from a record value; None (logged) for anything else."""
    try:
        event = json.loads(value or b"")
    except ValueError as error:
        log.warning("skipped a record that is not JSON: %s", error)
        return None
    needed = ("type", "event_id", "incident_key", "business_service", "priority", "status")
    if not isinstance(event, dict) or any(field not in event for field in needed):
        log.warning("skipped a record that is not an impact event: %.200s", value)
        return None
    return event


async def run(
    bootstrap: str, topic: str, group: str, store: Path, idle_exit: float = 0.0
) -> Tickets:
    """Consume until stopped (SIGINT, SIGTERM) or ``idle_exit`` seconds without records."""
    from aiokafka import AIOKafkaConsumer  # imported here: ``apply`` needs no Kafka client

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,  # committed below, once the store is saved
        auto_offset_reset="earliest",  # a new group starts at the oldest impact kept
    )
    tickets = load(store)
    await consumer.start()
    log.info("reading %s as group %s; %d ticket(s) in %s", topic, group, len(tickets), store)
    last_record = time.monotonic()
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            records = [record for batch in batches.values() for record in batch]
            if not records:
                if not consumer.assignment():
                    last_record = time.monotonic()  # still joining the group: not idle
                elif idle_exit and time.monotonic() - last_record >= idle_exit:
                    break
                continue
            last_record = time.monotonic()
            for record in records:
                event = parse(record.value)
                if event is None:
                    continue
                before = tickets.get(event["incident_key"])
                action = decide(before, event)
                tickets = apply(tickets, event)
                if action in UNCHANGED:
                    log.info("%s %s: %s, skipped", event["event_id"], event["type"], action)
                else:
                    sync(action, tickets[event["incident_key"]])
            save(store, tickets)
            await consumer.commit()  # only now: what is saved is never read again
    finally:
        await consumer.stop()
    return tickets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Open, update and close tickets from correlator impact events."
    )
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, HOST:PORT")
    parser.add_argument("--topic", default="impacts", help="the impacts topic (default impacts)")
    parser.add_argument("--group", default="itsm", help="consumer group (default itsm)")
    parser.add_argument("--store", type=Path, default=Path("tickets.json"), help="ticket file")
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="exit after this long without a record (default 0: run until SIGTERM)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    tickets = asyncio.run(run(args.bootstrap, args.topic, args.group, args.store, args.idle_exit))
    opened = sum(ticket["state"] == "open" for ticket in tickets.values())
    log.info("%d ticket(s), %d open, in %s", len(tickets), opened, args.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
