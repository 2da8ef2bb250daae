"""The ``ContactRepository`` port over SQLAlchemy Core.

Every method is one short transaction of its own: no session outlives a call, so the web
process and the worker can share a database without holding locks between requests.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, StatementError

from omnibot.adapters.clock import SystemClock
from omnibot.adapters.db import rows
from omnibot.adapters.db.engine import reading
from omnibot.adapters.db.errors import Conflict, ContactConflict, NotFound, RepositoryError, translate
from omnibot.adapters.db.reconnect import once_more_if_disconnected
from omnibot.adapters.db.tables import contacts, order_links
from omnibot.domain.model import Channel, Contact, OrderLink

__all__ = [
    "Conflict",
    "ContactConflict",
    "NotFound",
    "RepositoryError",
    "SqlContactRepository",
]


class SqlRepository:
    """The engine, the clock, and one transaction per write with its constraint violations translated."""

    def __init__(self, engine: Engine, now: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._now = now or SystemClock().now

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except IntegrityError as exc:
            raise translate(exc, what) from exc
        except StatementError as exc:
            # A value refused before it reached the database (a naive datetime): the caller's bug,
            # reported as plainly as the in-memory fakes report it.
            if isinstance(exc.orig, ValueError):
                raise exc.orig from None
            raise


class SqlContactRepository(SqlRepository):
    """Customers and the order links of their messenger accounts.

    ``add``, ``update`` and ``merge`` stamp ``updated_at`` with ``now()`` (and ``add`` fills a
    missing ``created_at``), on the row and on the object passed in. A phone, Telegram chat or
    Viber account already taken by another contact raises ``ContactConflict``.
    """

    def get(self, contact_id: int) -> Contact | None:
        return self._find(contacts.c.id, contact_id)

    def find_by_phone(self, phone: str) -> Contact | None:
        return self._find(contacts.c.phone, phone)

    def find_many(self, contact_ids: Collection[int], phones: Collection[str]) -> list[Contact]:
        if not contact_ids and not phones:
            return []
        query = sa.select(contacts).where(sa.or_(contacts.c.id.in_(list(contact_ids)),
                                                 contacts.c.phone.in_(list(phones))))
        with self._engine.connect() as connection:
            return [rows.contact(row) for row in connection.execute(query)]

    def find_by_telegram_chat(self, chat_id: int) -> Contact | None:
        return self._find(contacts.c.telegram_chat_id, chat_id)

    def find_by_viber_user(self, user_id: str) -> Contact | None:
        return self._find(contacts.c.viber_user_id, user_id)

    def find_by_order(self, order_id: str) -> list[Contact]:
        query = (
            sa.select(contacts)
            .join(order_links, order_links.c.contact_id == contacts.c.id)
            .where(order_links.c.order_id == order_id)
            .order_by(order_links.c.created_at.desc(), contacts.c.id.desc())
        )
        with self._engine.connect() as connection:
            linked = connection.execute(query).all()
        found: dict[int, Contact] = {}
        for row in linked:  # a contact linked through both messengers is listed once, at its latest
            found.setdefault(row.id, rows.contact(row))
        return list(found.values())

    def add(self, contact: Contact) -> Contact:
        if contact.id is not None:
            raise ValueError("contact already has an id; use update")
        now = self._now()
        values = rows.contact_values(contact)
        values.update(created_at=contact.created_at or now, updated_at=now)
        with self._write("contact") as connection:
            result = connection.execute(contacts.insert(), values)  # parameters: a cached compiled INSERT
        key = result.inserted_primary_key
        assert key is not None  # an INSERT always has one
        contact.id = int(key[0])
        contact.created_at, contact.updated_at = values["created_at"], now
        return contact

    def update(self, contact: Contact) -> None:
        now = self._now()
        with self._write("contact") as connection:
            self._save(connection, contact, now)
        contact.updated_at = now

    def merge(self, keep: Contact, duplicate: Contact) -> None:
        keep_id, duplicate_id = _id(keep), _id(duplicate)
        if keep_id == duplicate_id:
            raise ValueError("a contact cannot be merged into itself")
        now = self._now()
        with self._write("contact") as connection:
            # The row lock holds off a link to the duplicate made meanwhile, which the delete would
            # cascade away unseen. SQLite ignores FOR UPDATE: there a link could slip in only
            # between this read and the delete.
            locked = connection.execute(
                sa.select(contacts.c.id).where(contacts.c.id == duplicate_id).with_for_update()
            ).first()
            if locked is None:
                raise NotFound(f"contact {duplicate_id} does not exist")
            links = connection.execute(
                sa.select(order_links.c.order_id, order_links.c.channel, order_links.c.created_at)
                .where(order_links.c.contact_id == duplicate_id)
            ).all()
            # First, so that the accounts ``keep`` takes over are free for it.
            connection.execute(contacts.delete().where(contacts.c.id == duplicate_id))
            for link in links:
                _upsert_link(connection, link.order_id, keep_id, link.channel, link.created_at,
                             keep_latest=True)
            self._save(connection, keep, now)
        keep.updated_at = now

    def link_order(self, link: OrderLink) -> None:
        with self._write("order link") as connection:
            _upsert_link(connection, link.order_id, link.contact_id, Channel(link.channel).value,
                         self._now(), keep_latest=False)

    def delete(self, contact_id: int) -> None:
        with self._write("contact") as connection:
            connection.execute(contacts.delete().where(contacts.c.id == contact_id))

    def _find(self, column: sa.Column[Any], value: object) -> Contact | None:
        if value is None:  # ``column == None`` would mean IS NULL: any contact without one
            return None
        row = once_more_if_disconnected(lambda: self._first(_contact_by(column.name), value))
        return None if row is None else rows.contact(row)

    def _first(self, query: sa.Select[Any], value: object) -> sa.Row[Any] | None:
        with reading(self._engine) as connection:
            return connection.execute(query, {"value": value}).first()

    @staticmethod
    def _save(connection: Connection, contact: Contact, now: datetime) -> None:
        contact_id = _id(contact)
        values = rows.contact_values(contact)
        values["updated_at"] = now
        result = connection.execute(contacts.update().where(contacts.c.id == contact_id).values(values))
        if result.rowcount == 0:
            raise NotFound(f"contact {contact_id} does not exist")


@functools.cache
def _contact_by(column: str) -> sa.Select[Any]:
    """The contact with a given value in ``column``, built once (SQLAlchemy reuses its compiled form)."""
    return sa.select(contacts).where(contacts.c[column] == sa.bindparam("value"))


def _id(contact: Contact) -> int:
    if contact.id is None:
        raise ValueError("contact has no id: add it first")
    return contact.id


def _upsert_link(
    connection: Connection, order_id: str, contact_id: int, channel: str, created_at: datetime,
    *, keep_latest: bool,
) -> None:
    """Insert a link, or refresh the time of the one already there.

    ``keep_latest`` keeps whichever time is newer: a merge must not make a link look older.
    """
    connection.execute(_link_upsert(connection.dialect.name, keep_latest),
                       {"order_id": order_id, "contact_id": contact_id, "channel": channel, "created_at": created_at})


@functools.cache
def _link_upsert(dialect: str, keep_latest: bool) -> sa.Insert:
    # Built once per kind: building an upsert (its ``excluded`` columns above all) costs more
    # CPU than running it.
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"omnibot supports PostgreSQL and SQLite, not {dialect}")
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(order_links)
    statement = insert.values({name: sa.bindparam(name, type_=order_links.c[name].type)
                               for name in ("order_id", "contact_id", "channel", "created_at")})
    new_time: sa.ColumnElement[Any] = statement.excluded.created_at
    if keep_latest:
        new_time = sa.case((new_time > order_links.c.created_at, new_time),
                           else_=order_links.c.created_at)
    return statement.on_conflict_do_update(
        index_elements=[order_links.c.order_id, order_links.c.contact_id, order_links.c.channel],
        set_={"created_at": new_time},
    )
