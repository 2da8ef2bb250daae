"""Schema migrations from code: what `omnibot db upgrade` uses, no alembic.ini needed.

Where the schema stands (``current_revision``, ``head_revision``, ``is_current``) is read without
importing alembic: `/readyz` and the start-up check run in every API process (gunicorn's master
too, whose modules each forked worker inherits), and alembic with mako would add 11 MB to each.
Only migrating (``upgrade``, ``alembic_config``) imports it, in the process that migrates.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from omnibot.adapters.db.engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # alembic's default name: env.py keeps it


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for omnibot's migrations; ``env.py`` uses ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; an empty database gets every table."""
    from alembic import command

    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated (or downgraded to nothing)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        revision: str | None = connection.execute(
            sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()
        return revision


@functools.cache
def head_revision() -> str:
    """The newest revision this version of omnibot ships."""
    return head_of(MIGRATIONS / "versions")


def head_of(versions: Path) -> str:
    """The revision no other revision in ``versions`` builds on.

    Read from each file's ``revision`` and ``down_revision`` literals, not by alembic's
    ``ScriptDirectory``, which imports alembic and runs every migration module to find them;
    a unit test holds the two to the same answer.
    """
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in versions.glob("*.py"):
        literals = _module_literals(path, ("revision", "down_revision"))
        revision, down = literals.get("revision"), literals.get("down_revision")
        if not isinstance(revision, str):
            continue  # not a revision (an __init__.py, a helper)
        revisions.add(revision)
        if isinstance(down, str):
            built_on.add(down)
        elif isinstance(down, tuple | list):  # a merge of branches
            built_on.update(map(str, down))
    heads = revisions - built_on
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision in {versions}, found {sorted(heads) or 'none'}")
    return heads.pop()


def _module_literals(path: Path, names: tuple[str, ...]) -> dict[str, object]:
    """The values of ``names`` assigned at a module's top level (``x = "…"`` or ``x: str = "…"``), not running it."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found


def is_current(engine: Engine) -> bool:
    """Whether the schema is exactly what this version of omnibot expects."""
    return current_revision(engine) == head_revision()
