"""Translating the database's constraint violations into the domain's repository errors.

The in-memory fakes in ``tests/fakes.py`` raise the same classes, so services can be tested on
either and catch one thing.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from omnibot.domain.errors import Conflict, ContactConflict, NotFound, RepositoryError

__all__ = ["CONTACT_KEYS", "Conflict", "ContactConflict", "NotFound", "RepositoryError", "translate"]

# The contact columns that identify one customer; each is unique across contacts.
CONTACT_KEYS = ("phone", "telegram_chat_id", "viber_user_id")


def translate(exc: IntegrityError, what: str) -> RepositoryError:
    """Our exception for a constraint violation while writing ``what`` ("contact", "notification")."""
    kind = _violation(exc)
    if kind == "foreign_key":
        return NotFound(f"{what} refers to a record that does not exist")
    if kind == "unique" and what == "contact":
        return ContactConflict(_contact_key(exc))
    if kind == "unique":
        return Conflict(f"{what} already exists")
    return RepositoryError(f"{what} violates a database constraint")


def _violation(exc: IntegrityError) -> str:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)  # psycopg
    if sqlstate == "23505":
        return "unique"
    if sqlstate == "23503":
        return "foreign_key"
    name = getattr(orig, "sqlite_errorname", "")  # sqlite3, Python 3.11+
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return "unique"
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY":
        return "foreign_key"
    return "other"


def _contact_key(exc: IntegrityError) -> str | None:
    # PostgreSQL names the constraint (uq_contacts_phone); SQLite says "... failed: contacts.phone".
    # Neither source carries the offending value.
    diag = getattr(exc.orig, "diag", None)
    source = getattr(diag, "constraint_name", None) or str(exc.orig)
    for key in CONTACT_KEYS:
        if f"contacts_{key}" in source or f"contacts.{key}" in source:
            return key
    return None
