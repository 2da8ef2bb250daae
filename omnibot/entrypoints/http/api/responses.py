"""Bodies of the API's answers that have no request model of their own, for the OpenAPI document.

``errors.error_response`` builds every error body from ``ErrorBody``, so the document's error
schema is the shape the code sends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema


def _no_default(schema: JsonDict) -> None:
    """An optional field is left out, never null: a ``"default": null`` would say otherwise."""
    schema.pop("default", None)


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable, e.g. `invalid_phone`, `unauthorized`, `not_found`.")
    message: str = Field(description="For people; never contains a secret or a phone number.")
    # Left out of the body, never null, when the error is not about one field.
    field: str | SkipJsonSchema[None] = Field(
        default=None, description="The request field at fault, `items[1]` style, when there is one.",
        json_schema_extra=_no_default)


class ErrorBody(BaseModel):
    """Every error: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


class TriggerResult(BaseModel):
    """``POST /trigger-notification`` always answers 200 with one of these outcomes."""

    status: Literal[
        "Sent via Telegram", "Sent via Viber", "Failed: User not found", "Failed: No reachable channel",
        "Failed: Delivery failed", "Queued for retry",
    ]
    notification_id: str = Field(description="Look it up with `GET /v1/notifications/{notification_id}`.")


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable", "migrations pending"]


class TelegramAnswer(BaseModel):
    """``{"ok": true}``; with a reply to the customer, that reply as the Bot API call Telegram makes
    on the bot's behalf (``{"method": "sendMessage", "chat_id", "text", ...}``)."""

    model_config = ConfigDict(extra="allow")

    ok: Literal[True] | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    method: Literal["sendMessage"] | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    chat_id: int | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    text: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)


class ViberAnswer(BaseModel):
    """``{"status": 0}``; on ``conversation_started`` the welcome message itself, as Viber takes it."""

    model_config = ConfigDict(extra="allow")

    status: int | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    type: str | SkipJsonSchema[None] = Field(default=None, description="`text` for the welcome message.",
                                             json_schema_extra=_no_default)
    text: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
