"""The bodies the control API accepts, one model per action; unknown fields are refused."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_PHONE = re.compile(r"\+?[1-9]\d{6,14}")


def normalise_phone(value: str) -> str:
    """E.164 with a leading ``+``; spaces, dashes, dots and brackets are dropped."""
    compact = re.sub(r"[\s\-().]", "", value)
    if not _PHONE.fullmatch(compact):
        raise ValueError("phone must be an international number such as +380501234567")
    return "+" + compact.lstrip("+")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCustomer(_Body):
    name: str = Field(min_length=1, max_length=128)
    phone: str
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
    country: str = Field(default="UA", pattern=r"^[A-Z]{2}$")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)


class OpenLink(_Body):
    url: str = Field(min_length=1)


class TelegramStart(_Body):
    payload: str | None = None


class Text(_Body):
    text: str = Field(min_length=1, max_length=4096)


class TelegramContact(_Body):
    own: bool = True
    phone: str | None = None
    name: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)


class ViberOpen(_Body):
    context: str | None = None


class Silent(_Body):
    # Change the customer's state without telling the bot, e.g. to make a send fail unannounced.
    silent: bool = False


class Receipt(_Body):
    message_token: int | None = None
    desc: str = "Message could not be delivered to the user's device"  # `failed` only


class Empty(_Body):
    pass
