"""In-memory stand-ins for the ports, for unit tests that must run in milliseconds.

The repositories behave like ``omnibot.adapters.db.repository``'s: the same contract suite
(``tests/integration/test_repository.py``) runs against both, and they raise the same exceptions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar, cast

from omnibot.adapters.clock import SystemClock
from omnibot.adapters.db.errors import CONTACT_KEYS, Conflict, ContactConflict, NotFound
from omnibot.adapters.db.tables import utc
from omnibot.domain.errors import IdempotencyConflict
from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    ChannelState,
    Contact,
    DeliveryAttempt,
    LinkToken,
    Notification,
    NotificationStatus,
    OrderLink,
    Priority,
    StatusCallback,
)
from omnibot.ports import BotReply, CallbackJob, ContactRepository, InboundUnit, NoTelemetry, ReplyJob

Now = Callable[[], datetime]
P = TypeVar("P")
T = TypeVar("T")


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)) -> None:
        self._now = utc(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


class InMemoryContactRepository:
    """``ContactRepository`` over dicts; stores copies, as a database would."""

    def __init__(self, now: Now | None = None) -> None:
        self._now = now or SystemClock().now
        self._contacts: dict[int, Contact] = {}
        self._links: dict[tuple[str, int, Channel], datetime] = {}
        self._ids = itertools.count(1)

    def get(self, contact_id: int) -> Contact | None:
        found = self._contacts.get(contact_id)
        return None if found is None else replace(found)

    def find_by_phone(self, phone: str) -> Contact | None:
        return self._find("phone", phone)

    def find_by_telegram_chat(self, chat_id: int) -> Contact | None:
        return self._find("telegram_chat_id", chat_id)

    def find_by_viber_user(self, user_id: str) -> Contact | None:
        return self._find("viber_user_id", user_id)

    def find_by_order(self, order_id: str) -> list[Contact]:
        linked = sorted(((at, contact_id) for (order, contact_id, _), at in self._links.items()
                         if order == order_id), reverse=True)
        return [replace(self._contacts[contact_id])
                for contact_id in dict.fromkeys(contact_id for _, contact_id in linked)]

    def add(self, contact: Contact) -> Contact:
        if contact.id is not None:
            raise ValueError("contact already has an id; use update")
        now = self._now()
        created_at = contact.created_at or now
        self._check_unique(contact, ignore=set())
        contact_id = next(self._ids)
        self._contacts[contact_id] = _stored_contact(contact, contact_id, created_at, now)
        contact.id, contact.created_at, contact.updated_at = contact_id, created_at, now
        return contact

    def update(self, contact: Contact) -> None:
        contact_id = self._existing(contact)
        self._check_unique(contact, ignore={contact_id})
        self._save(contact, contact_id)

    def merge(self, keep: Contact, duplicate: Contact) -> None:
        duplicate_id, keep_id = self._existing(duplicate), self._existing(keep)
        if keep_id == duplicate_id:
            raise ValueError("a contact cannot be merged into itself")
        self._check_unique(keep, ignore={keep_id, duplicate_id})
        del self._contacts[duplicate_id]
        for (order_id, contact_id, channel), at in list(self._links.items()):
            if contact_id == duplicate_id:
                del self._links[(order_id, contact_id, channel)]
                key = (order_id, keep_id, channel)
                self._links[key] = max(self._links.get(key, at), at)
        self._save(keep, keep_id)

    def link_order(self, link: OrderLink) -> None:
        if link.contact_id not in self._contacts:
            raise NotFound("order link refers to a record that does not exist")
        self._links[(link.order_id, link.contact_id, Channel(link.channel))] = utc(self._now())

    def delete(self, contact_id: int) -> None:
        self._contacts.pop(contact_id, None)
        for key in [k for k in self._links if k[1] == contact_id]:
            del self._links[key]

    def find_many(self, contact_ids: Collection[int], phones: Collection[str]) -> list[Contact]:
        return [replace(contact) for contact in self._contacts.values()
                if contact.id in contact_ids or contact.phone in phones]

    def stored(self) -> list[Contact]:
        """Copies of every contact kept, for read models that scan them all (the dashboard's)."""
        return [replace(contact) for contact in self._contacts.values()]

    def _find(self, key: str, value: object) -> Contact | None:
        if value is None:
            return None
        for contact in self._contacts.values():
            if getattr(contact, key) == value:
                return replace(contact)
        return None

    def _existing(self, contact: Contact) -> int:
        if contact.id is None:
            raise ValueError("contact has no id: add it first")
        if contact.id not in self._contacts:
            raise NotFound(f"contact {contact.id} does not exist")
        return contact.id

    def _check_unique(self, contact: Contact, ignore: set[int]) -> None:
        for key in CONTACT_KEYS:
            value = getattr(contact, key)
            if value is not None and any(getattr(other, key) == value
                                         for other_id, other in self._contacts.items()
                                         if other_id not in ignore):
                raise ContactConflict(key)

    def _save(self, contact: Contact, contact_id: int) -> None:
        now = self._now()
        self._contacts[contact_id] = _stored_contact(
            contact, contact_id, self._contacts[contact_id].created_at or now, now)
        contact.updated_at = now


def _stored_contact(contact: Contact, contact_id: int, created_at: datetime, updated_at: datetime) -> Contact:
    """The copy a database would keep: enums checked, times in UTC (naive ones refused)."""
    return replace(
        contact,
        id=contact_id,
        telegram_state=ChannelState(contact.telegram_state),
        viber_state=ChannelState(contact.viber_state),
        created_at=utc(created_at),
        updated_at=utc(updated_at),
    )


class InMemoryNotificationRepository:
    """``NotificationRepository`` over dicts.

    Given ``contacts``, it also checks ``contact_id`` as the foreign key does, and forgets the
    contact of a notification once that contact is merged away (``ON DELETE SET NULL``).
    """

    def __init__(self, now: Now | None = None, contacts: InMemoryContactRepository | None = None) -> None:
        self._now = now or SystemClock().now
        self._contacts = contacts
        self._notifications: dict[str, Notification] = {}
        # (created_at, insertion number, attempt): sorted, the order the SQL query gives.
        self._attempts: dict[str, list[tuple[datetime, int, DeliveryAttempt]]] = {}
        self._sequence = itertools.count()

    def add(self, notification: Notification) -> None:
        now = self._now()
        notification.created_at = notification.created_at or now
        notification.updated_at = notification.updated_at or now
        if notification.id in self._notifications:
            raise Conflict("notification already exists")
        self._check_contact(notification.contact_id)
        self._notifications[notification.id] = replace(
            notification,
            items=list(notification.items),
            attempts=[],
            created_at=utc(notification.created_at),
            **_progress(notification),
        )
        self._attempts[notification.id] = []
        for attempt in notification.attempts:
            self._store_attempt(notification.id, attempt, now)

    def update(self, notification: Notification) -> None:
        notification.updated_at = notification.updated_at or self._now()
        stored = self._notifications.get(notification.id)
        if stored is None:
            raise NotFound(f"notification {notification.id} does not exist")
        self._check_contact(notification.contact_id)
        self._notifications[notification.id] = replace(stored, **_progress(notification))

    def add_attempt(self, notification_id: str, attempt: DeliveryAttempt) -> None:
        self._store_attempt(notification_id, attempt, self._now())

    def get(self, notification_id: str) -> Notification | None:
        stored = self._notifications.get(notification_id)
        if stored is None:
            return None
        attempts = [replace(attempt) for *_, attempt in sorted(self._attempts[notification_id],
                                                              key=lambda entry: entry[:2])]
        contact_id = stored.contact_id if self._contact_exists(stored.contact_id) else None
        return replace(stored, items=list(stored.items), attempts=attempts, contact_id=contact_id)

    def stored(self) -> list[Notification]:
        """What ``get`` gives for every notification kept, for read models that scan them all (the dashboard's)."""
        return [found for notification_id in self._notifications
                if (found := self.get(notification_id)) is not None]

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        changed = 0
        for notification_id, stored in self._notifications.items():
            if (phone and stored.phone == phone) or (contact_id is not None and stored.contact_id == contact_id):
                self._notifications[notification_id] = replace(
                    stored, phone=None, order_id=None, items=[], text=None, contact_id=None, callback_url=None)
                changed += 1
        return changed

    def _store_attempt(self, notification_id: str, attempt: DeliveryAttempt, now: datetime) -> None:
        attempt.created_at = attempt.created_at or now
        if notification_id not in self._notifications:
            raise NotFound("delivery attempt refers to a record that does not exist")
        created_at = utc(attempt.created_at)
        self._attempts[notification_id].append((created_at, next(self._sequence), replace(
            attempt, channel=Channel(attempt.channel), outcome=AttemptOutcome(attempt.outcome),
            created_at=created_at)))

    def _check_contact(self, contact_id: int | None) -> None:
        if contact_id is not None and not self._contact_exists(contact_id):
            raise NotFound("notification refers to a record that does not exist")

    def _contact_exists(self, contact_id: int | None) -> bool:
        if contact_id is None:
            return False
        return self._contacts is None or self._contacts.get(contact_id) is not None


def _progress(notification: Notification) -> dict[str, Any]:
    """What ``update`` saves, as the database would return it."""
    return {
        "status": NotificationStatus(notification.status),
        "channel": None if notification.channel is None else Channel(notification.channel),
        "contact_id": notification.contact_id,
        "result": notification.result,
        "updated_at": _utc(notification.updated_at),
        "next_attempt_at": _utc(notification.next_attempt_at),
    }


class InMemoryDeliveryQueue:
    """``DeliveryQueue`` over an ``InMemoryNotificationRepository``, with the same lease rules.

    The contract suite (``tests/integration/test_queue.py``, ``test_queue_priorities.py``) runs
    against it and ``SqlDeliveryQueue`` alike.
    """

    def __init__(self, notifications: InMemoryNotificationRepository, now: Now) -> None:
        self._notifications = notifications
        self._now = now
        self._leases: dict[str, tuple[str, datetime]] = {}
        self._keys: dict[str, tuple[str, str | None]] = {}
        self.callbacks: list[tuple[str, StatusCallback]] = []  # the outbox rows written with passes

    def enqueue(
        self, notification: Notification, idempotency_key: str | None = None,
        fingerprint: str | None = None, lease_owner: str | None = None, lease_seconds: float = 0,
    ) -> tuple[Notification, bool]:
        now = self._now()
        notification.created_at = notification.created_at or now
        notification.updated_at = notification.updated_at or now
        notification.next_attempt_at = notification.next_attempt_at or now
        leased = lease_owner is not None
        notification.status = NotificationStatus.SENDING if leased else NotificationStatus.QUEUED
        if idempotency_key is not None and idempotency_key in self._keys:
            stored_id, stored_fingerprint = self._keys[idempotency_key]
            if stored_fingerprint != fingerprint:
                raise IdempotencyConflict()
            stored = self._notifications.get(stored_id)
            assert stored is not None
            return stored, False
        # The SQL queue inserts the request and its progress: attempts it carries are not written.
        self._notifications.add(replace(notification, attempts=[]))
        if idempotency_key is not None:
            self._keys[idempotency_key] = (notification.id, fingerprint)
        if lease_owner is not None:
            self._leases[notification.id] = (lease_owner, now + timedelta(seconds=lease_seconds))
        return notification, True

    def claim(self, owner: str, limit: int, lease_seconds: float, bulk_limit: int | None = None) -> list[Notification]:
        now = self._now()
        due = [n for n in self._notifications._notifications.values() if self._due(n, now)]

        def lane(notification: Notification) -> int:  # as the SQL queue: high, leases run out, normal, bulk
            if notification.status is NotificationStatus.SENDING:
                return 1
            return {Priority.HIGH: 0, Priority.NORMAL: 2, Priority.BULK: 3}[notification.priority]

        def in_lane(notification: Notification) -> datetime:
            # Queued ones in the order they fell due, the others in the order their leases ran out.
            if lane(notification) == 1:
                return self._leases[notification.id][1]
            return notification.next_attempt_at or now

        due.sort(key=lambda n: (lane(n), in_lane(n)))
        bulk_room = limit if bulk_limit is None else max(0, min(limit, bulk_limit))
        due = [n for n in due if lane(n) != 3] + [n for n in due if lane(n) == 3][:bulk_room]
        claimed = []
        for stored in sorted(due[:limit], key=lambda n: (n.priority.rank, n.next_attempt_at or now)):
            stored.status = NotificationStatus.SENDING
            self._leases[stored.id] = (owner, now + timedelta(seconds=lease_seconds))
            found = self._notifications.get(stored.id)
            assert found is not None
            claimed.append(found)
        return claimed

    def _due(self, notification: Notification, now: datetime) -> bool:
        if notification.status is NotificationStatus.QUEUED:
            return notification.next_attempt_at is not None and notification.next_attempt_at <= now
        lease = self._leases.get(notification.id)
        return notification.status is NotificationStatus.SENDING and lease is not None and lease[1] < now

    def reschedule(self, notification: Notification, owner: str) -> bool:
        notification.status = NotificationStatus.QUEUED
        return self._end_passes([(notification, owner)])[0]

    def complete(self, notification: Notification, owner: str) -> bool:
        return self._end_passes([(notification, owner)])[0]

    def end_passes(self, passes: Sequence[tuple[Notification, str]]) -> list[bool]:
        return self._end_passes(passes)

    def _end_passes(self, passes: Sequence[tuple[Notification, str]]) -> list[bool]:
        """As one transaction: a pass the store refuses fails the batch before anything is written,
        and the passes keep their unsaved attempts and callbacks for another try."""
        now = self._now()
        held = [self._holds(notification.id, owner) for notification, owner in passes]
        for (notification, _), holds in zip(passes, held, strict=True):
            if notification.unsaved_attempts and notification.id not in self._notifications._notifications:
                raise NotFound("delivery attempt refers to a record that does not exist")
            if holds:
                self._notifications._check_contact(notification.contact_id)
        for (notification, _), holds in zip(passes, held, strict=True):
            notification.updated_at = now
            for attempt in notification.unsaved_attempts:
                # A copy, as the SQL queue writes a row: the pass's own attempt keeps its fields.
                self._notifications.add_attempt(notification.id, replace(attempt, created_at=attempt.created_at or now))
            if holds:
                if notification.unsaved_callback is not None:
                    self.callbacks.append((notification.id, notification.unsaved_callback))
                self._notifications.update(notification)
                del self._leases[notification.id]
        for notification, _ in passes:
            notification.unsaved_attempts.clear()
            notification.unsaved_callback = None
        return held

    def _holds(self, notification_id: str, owner: str) -> bool:
        lease = self._leases.get(notification_id)
        return lease is not None and lease[0] == owner

    def forget_idempotency_keys(self, older_than: datetime) -> int:
        forgotten = [key for key, (notification_id, _) in self._keys.items()
                     if (stored := self._notifications.get(notification_id)) is None
                     or (stored.created_at or older_than) < older_than]
        for key in forgotten:
            del self._keys[key]
        return len(forgotten)

    def get(self, notification_id: str) -> Notification | None:
        return self._notifications.get(notification_id)

    def anonymize(self, phone: str | None, contact_id: int | None) -> int:
        return self._notifications.anonymize(phone, contact_id)

    def depth(self) -> tuple[int, datetime | None]:
        waiting = [n for n in self._notifications._notifications.values() if not n.status.is_final]
        return len(waiting), min((n.created_at for n in waiting if n.created_at), default=None)

    def release(self, notification_ids: Sequence[str], owner: str) -> int:
        released = 0
        for notification_id in notification_ids:
            stored = self._notifications._notifications.get(notification_id)
            lease = self._leases.get(notification_id)
            if stored and lease and lease[0] == owner and stored.status is NotificationStatus.SENDING:
                stored.status = NotificationStatus.QUEUED
                del self._leases[notification_id]
                released += 1
        return released

    def record_receipt(self, channel: Channel, provider_message_id: str,
                       status: NotificationStatus) -> Notification | None:
        notification_id = self._sent_as(channel, provider_message_id)
        if notification_id is None:
            return None
        stored = self._notifications._notifications[notification_id]
        if stored.status in status.moved_from_by_receipt():
            stored.status, stored.updated_at = status, self._now()
        return self._notifications.get(notification_id)

    def record_undelivered(self, channel: Channel, provider_message_id: str, error: str,
                           result: str) -> Notification | None:
        notification_id = self._sent_as(channel, provider_message_id)
        if notification_id is None:
            return None
        stored = self._notifications._notifications[notification_id]
        if stored.status is not NotificationStatus.SENT:
            return None
        now = self._now()
        stored.status, stored.result, stored.updated_at = NotificationStatus.FAILED, result, now
        self._notifications.add_attempt(notification_id, DeliveryAttempt(
            channel, AttemptOutcome.PERMANENT_FAILURE, error=error, provider_message_id=provider_message_id,
            created_at=now))
        return self._notifications.get(notification_id)

    def _sent_as(self, channel: Channel, provider_message_id: str) -> str | None:
        for notification_id, attempts in self._notifications._attempts.items():
            if any(a.channel is channel and a.provider_message_id == provider_message_id for *_, a in attempts):
                return notification_id
        return None


class InMemoryLinkTokenRepository:
    def __init__(self) -> None:
        self.tokens: dict[str, LinkToken] = {}

    def add(self, token: LinkToken) -> None:
        self.tokens[token.token_hash] = replace(token)

    def get(self, token_hash: str) -> LinkToken | None:
        token = self.tokens.get(token_hash)
        return None if token is None else replace(token)

    def use(self, token_hash: str, contact_id: int, at: datetime) -> bool:
        token = self.tokens.get(token_hash)
        if token is None or token.used_at is not None:
            return False
        token.used_at, token.used_by_contact_id = at, contact_id
        return True

    def contacts_for_order(self, order_id: str) -> list[int]:
        used = sorted((t for t in self.tokens.values() if t.order_id == order_id and t.used_by_contact_id),
                      key=lambda t: t.used_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return [t.used_by_contact_id for t in used if t.used_by_contact_id is not None]

    def delete_for_phone(self, phone: str) -> int:
        doomed = [h for h, t in self.tokens.items() if t.phone == phone]
        for token_hash in doomed:
            del self.tokens[token_hash]
        return len(doomed)


class InMemoryUpdateLog:
    """``UpdateLog`` in a dict: (channel, key) → (handled at, the reply kept for a redelivery)."""

    def __init__(self, now: Now) -> None:
        self._now = now
        self.handled: dict[tuple[Channel, str], tuple[datetime, BotReply | None]] = {}

    def claim(self, channel: Channel, key: str) -> bool:
        if (channel, key) in self.handled:
            return False
        self.handled[(channel, key)] = (self._now(), None)
        return True

    def keep_reply(self, channel: Channel, key: str, reply: BotReply) -> None:
        # As the UPDATE of the SQL log: nothing to keep it with, nothing kept.
        if (channel, key) in self.handled:
            self.handled[(channel, key)] = (self.handled[(channel, key)][0], reply)

    def reply_to(self, channel: Channel, key: str) -> BotReply | None:
        return self.handled.get((channel, key), (None, None))[1]

    def forget_before(self, before: datetime) -> int:
        doomed = [k for k, (at, _) in self.handled.items() if at < before]
        for key in doomed:
            del self.handled[key]
        return len(doomed)

    def snapshot(self) -> dict[Any, Any]:
        return dict(self.handled)

    def restore(self, snapshot: dict[Any, Any]) -> None:
        self.handled.clear()
        self.handled.update(snapshot)


@dataclass(frozen=True)
class OutboxRow(Generic[P]):
    """One row of an outbox table: ``next_attempt_at`` None means given up, kept for operators."""

    payload: P
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None = None


class _InMemoryOutbox(Generic[P]):
    """An outbox claimed as ``adapters/db/outbox.py`` claims its tables: moving ``next_attempt_at``
    forward by the lease is the lease, and every claim counts one more attempt."""

    def __init__(self, now: Now) -> None:
        self._now = now
        self.rows: dict[int, OutboxRow[P]] = {}
        self._ids = itertools.count(1)  # like a database sequence, not given back by a rollback

    def _add(self, payload: P) -> None:
        self.rows[next(self._ids)] = OutboxRow(payload, 0, self._now())

    def _claim(self, limit: int, lease_seconds: float) -> list[tuple[int, OutboxRow[P]]]:
        now = self._now()
        due = sorted((row.next_attempt_at, row_id) for row_id, row in self.rows.items()
                     if row.next_attempt_at is not None and row.next_attempt_at <= now)
        claimed = []
        for _, row_id in due[:limit]:
            row = self.rows[row_id]
            self.rows[row_id] = row = replace(row, attempts=row.attempts + 1,
                                              next_attempt_at=now + timedelta(seconds=lease_seconds))
            claimed.append((row_id, row))
        return claimed

    def done(self, job_id: int) -> None:
        self.rows.pop(job_id, None)

    def retry(self, job_id: int, delay_seconds: float | None, error: str) -> None:
        at = None if delay_seconds is None else self._now() + timedelta(seconds=delay_seconds)
        if job_id in self.rows:
            self.rows[job_id] = replace(self.rows[job_id], next_attempt_at=at, last_error=error[:1000])

    def postpone(self, job_id: int, delay_seconds: float) -> None:
        if job_id in self.rows:
            row = self.rows[job_id]
            self.rows[job_id] = replace(row, next_attempt_at=self._now() + timedelta(seconds=delay_seconds),
                                        attempts=row.attempts - 1)

    def snapshot(self) -> dict[Any, Any]:
        return dict(self.rows)

    def restore(self, snapshot: dict[Any, Any]) -> None:
        self.rows.clear()
        self.rows.update(snapshot)


class InMemoryReplyOutbox(_InMemoryOutbox[BotReply]):
    """``ReplyOutbox``: the bot's replies waiting for the workers."""

    def add(self, reply: BotReply) -> None:
        self._add(reply)

    def claim(self, limit: int, lease_seconds: float) -> list[ReplyJob]:
        return [ReplyJob(row_id, row.payload, row.attempts) for row_id, row in self._claim(limit, lease_seconds)]


class InMemoryCallbackOutbox(_InMemoryOutbox[tuple[str, str, str]]):
    """``CallbackOutbox``: status callbacks (notification id, url, body) waiting for the workers."""

    def add(self, notification_id: str, url: str, body: str) -> None:
        self._add((notification_id, url, body))

    def claim(self, limit: int, lease_seconds: float) -> list[CallbackJob]:
        return [CallbackJob(row_id, *row.payload, row.attempts) for row_id, row in self._claim(limit, lease_seconds)]


@dataclass
class InMemoryInboundUnit:
    contacts: ContactRepository
    tokens: InMemoryLinkTokenRepository
    updates: InMemoryUpdateLog
    replies: InMemoryReplyOutbox
    receipts: InMemoryDeliveryQueue
    callbacks: InMemoryCallbackOutbox


class InMemoryInboundStore:
    """``InboundStore`` over one ``InMemoryInboundUnit``.

    The transaction is kept where it is cheap: when ``work`` raises, the update log and both
    outboxes are put back as they were. Contacts, link tokens and the delivery queue are NOT rolled
    back by this fake: a test whose work fails midway sees what it wrote to them.
    """

    def __init__(self, unit: InMemoryInboundUnit) -> None:
        self.unit = unit
        self.runs = 0
        self._race_next_run = False

    def race_next_run(self) -> None:
        """In the next run, another update of the same account commits the account first: the
        run's new contact is already there when it adds it, and the add raises ``ContactConflict``
        as the database's unique keys make it."""
        self._race_next_run = True

    def run(self, work: Callable[[InboundUnit], T]) -> T:
        self.runs += 1
        unit = self.unit
        if self._race_next_run:
            self._race_next_run = False
            unit = replace(unit, contacts=cast(ContactRepository, _ContactsRacedOnAdd(unit.contacts)))
        kept = [(store, store.snapshot()) for store in (unit.updates, unit.replies, unit.callbacks)]
        try:
            return work(unit)
        except BaseException:
            for store, snapshot in kept:
                store.restore(snapshot)
            raise


class _ContactsRacedOnAdd:
    """Contacts as a transaction sees them when another one commits the same new account while it runs."""

    def __init__(self, contacts: ContactRepository) -> None:
        self._contacts = contacts

    def __getattr__(self, name: str) -> Any:
        return getattr(self._contacts, name)

    def add(self, contact: Contact) -> Contact:
        self._contacts.add(replace(contact))  # the other transaction's commit
        raise ContactConflict(None)


class RecordingTelemetry(NoTelemetry):
    """Keeps the notifications reported finished; reports nothing else, as ``NoTelemetry``."""

    def __init__(self) -> None:
        self.finished_notifications: list[Notification] = []
        self.charges: list[tuple[Channel, Billing]] = []

    def finished(self, notification: Notification) -> None:
        self.finished_notifications.append(notification)

    def charged(self, channel: Channel, billing: Billing) -> None:
        self.charges.append((channel, billing))


class InMemoryViberLedger:
    """``ViberLedger`` in a dict: one process, so taking a message is atomic without a lock."""

    def __init__(self) -> None:
        self.months: dict[str, dict[Billing, int]] = {}

    def reserve(self, month: str, free_quota: int, budget: int) -> Billing | None:
        used = self.months.setdefault(month, {Billing.FREE_QUOTA: 0, Billing.BILLABLE: 0})
        for billing, limit in ((Billing.FREE_QUOTA, free_quota), (Billing.BILLABLE, budget)):
            if used[billing] < limit:
                used[billing] += 1
                return billing
        return None

    def give_back(self, month: str, billing: Billing) -> None:
        used = self.months.get(month)
        if used is not None and used.get(billing, 0) > 0:
            used[billing] -= 1

    def used(self, month: str) -> tuple[int, int]:
        used = self.months.get(month, {})
        return used.get(Billing.FREE_QUOTA, 0), used.get(Billing.BILLABLE, 0)


class InMemoryOperatorSignOuts:
    """``OperatorSignOuts`` in a dict."""

    def __init__(self, now: Now) -> None:
        self._now = now
        self.sign_outs: dict[str, tuple[int, datetime]] = {}

    def generation(self, operator: str) -> int:
        return self.sign_outs.get(operator, (0, self._now()))[0]

    def sign_out(self, operator: str) -> int:
        generation = self.generation(operator) + 1
        self.sign_outs[operator] = (generation, self._now())
        return generation
