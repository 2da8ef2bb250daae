"""The dashboard's operators: sign-outs shared by every process."""

from __future__ import annotations

from typing import Protocol


class OperatorSignOuts(Protocol):
    """Dashboard sign-outs, shared by every process on the database.

    An operator's session carries the generation it was issued at; a sign-out moves the generation
    on, so every session issued before it no longer counts, whichever process issued it.
    """

    def generation(self, operator: str) -> int:
        """How many times ``operator`` has signed out; 0 if never."""
        ...

    def sign_out(self, operator: str) -> int:
        """Void every session of ``operator`` issued so far; returns the new generation."""
        ...
