"""The head revision read from the migration files' text is the one alembic finds by running them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from omnibot.adapters.db import migrate


def alembic_head(script_location: Path) -> str | None:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return ScriptDirectory.from_config(config).get_current_head()


def write_revisions(root: Path, revisions: dict[str, str]) -> Path:
    (root / "versions").mkdir(parents=True)
    for name, text in revisions.items():
        (root / "versions" / f"{name}.py").write_text(text)
    return root


def test_the_shipped_migrations_head_is_alembics() -> None:
    assert migrate.head_revision() == alembic_head(migrate.MIGRATIONS)


def test_a_merge_of_two_branches_is_the_head_in_either_spelling(tmp_path: Path) -> None:
    root = write_revisions(tmp_path, {
        "a": 'revision = "a"\ndown_revision = None\n',
        "b": "from typing import Union\nrevision: str = 'b'\ndown_revision: Union[str, None] = 'a'\n",
        "c": 'revision = "c"\ndown_revision = "a"\n',
        "d": 'revision: str = "d"\ndown_revision = ("b", "c")\n',
        "__init__": "",
    })
    assert migrate.head_of(root / "versions") == alembic_head(root) == "d"


def test_two_heads_are_an_error(tmp_path: Path) -> None:
    root = write_revisions(tmp_path, {
        "a": 'revision = "a"\ndown_revision = None\n',
        "b": 'revision = "b"\ndown_revision = "a"\n',
        "c": 'revision = "c"\ndown_revision = "a"\n',
    })
    with pytest.raises(RuntimeError, match=r"\['b', 'c'\]"):
        migrate.head_of(root / "versions")
