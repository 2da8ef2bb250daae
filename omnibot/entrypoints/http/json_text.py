"""NUL characters in JSON strings: valid JSON, but PostgreSQL's text columns refuse them.

The API answers a 400 naming the field; the webhooks drop the character instead, since a
messenger would only retry an update we refused.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def field_with_nul(data: Any, path: str = "") -> str | None:
    """The path (``items[1]``, ``customer.name``) of the first string or key holding a NUL, if any."""
    if isinstance(data, str):
        return (path or "body") if NUL in data else None
    if isinstance(data, list):
        for index, item in enumerate(data):
            found = field_with_nul(item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return where
            found = field_with_nul(value, where)
            if found:
                return found
    return None


def without_nul(data: Any) -> Any:
    """``data`` with every NUL removed from its strings and keys."""
    if isinstance(data, str):
        return data.replace(NUL, "")
    if isinstance(data, list):
        return [without_nul(item) for item in data]
    if isinstance(data, dict):
        return {str(key).replace(NUL, ""): without_nul(value) for key, value in data.items()}
    return data
