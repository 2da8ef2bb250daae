"""JSON bodies as omnibot reads them: parsed within a nesting limit, and checked for text that
cannot be stored or sent.

Two kinds of string are valid JSON but not text: the NUL character, which PostgreSQL's text
columns refuse, and a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 encoder accepts, so a
notification carrying one could never be sent. The API answers a 400 naming the field; the
webhooks replace the character instead, since a messenger would only retry an update we refused.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper than any body omnibot reads, far below the depth where parsing would exhaust the stack.
MAX_DEPTH = 32
NUL = "\x00"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins every valid pair into one character
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonRejected(ValueError):
    """A body that is not JSON omnibot can read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def load(raw: bytes) -> Any:
    """``raw`` parsed, or :class:`JsonRejected` (malformed, or nested more than ``MAX_DEPTH`` deep)."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise JsonRejected(f"request body is nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonRejected("request body is not valid JSON") from None
    if _depth(data) > MAX_DEPTH:
        raise JsonRejected(f"request body is nested more than {MAX_DEPTH} levels deep")
    return data


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((item, depth + 1) for item in value)
    return deepest


def unstorable_field(data: Any, path: str = "") -> tuple[str, str] | None:
    """``(path, problem)`` of the first string or key that is not storable text, if any.

    ``path`` reads like ``items[1]`` or ``customer.name``. Called on a body :func:`load` accepted,
    so the recursion is at most ``MAX_DEPTH`` deep.
    """
    if isinstance(data, str):
        problem = _problem(data)
        return ((path or "body"), problem) if problem else None
    if isinstance(data, list):
        for index, item in enumerate(data):
            found = unstorable_field(item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if problem := _problem(str(key)):
                return storable(where), problem  # the name itself holds the character: echo it safely
            found = unstorable_field(value, where)
            if found:
                return found
    return None


def storable(data: Any) -> Any:
    """``data`` with every NUL removed and every lone surrogate replaced by U+FFFD."""
    if isinstance(data, str):
        return _LONE_SURROGATE.sub("\ufffd", data.replace(NUL, "")) if _UNSTORABLE.search(data) else data
    if isinstance(data, list):
        return [storable(item) for item in data]
    if isinstance(data, dict):
        return {storable(str(key)): storable(value) for key, value in data.items()}
    return data


def _problem(text: str) -> str | None:
    if NUL in text:
        return "text may not contain the NUL character (\\u0000)"
    if _LONE_SURROGATE.search(text):
        return "text must be valid Unicode: a lone UTF-16 surrogate (\\ud800-\\udfff) is not a character"
    return None

