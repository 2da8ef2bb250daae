"""Request bodies of the shop-facing API, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictInt, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from omnibot.domain.model import AttemptOutcome, Channel, NotificationStatus


class TriggerRequest(BaseModel):
    """The seed's ``POST /trigger-notification`` body; extra keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    phone: StrictStr = Field(min_length=1, max_length=32)
    order_id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    items: list[StrictStr] = Field(default_factory=list, max_length=200)


class NotificationCreate(BaseModel):
    """``POST /v1/notifications``: ``phone`` and/or ``order_id`` name the customer."""

    model_config = ConfigDict(extra="forbid")

    phone: StrictStr | None = Field(default=None, min_length=1, max_length=32)
    order_id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    event: Literal["order_ready", "text"] | None = None
    items: list[StrictStr] = Field(default_factory=list, max_length=200)
    text: StrictStr | None = Field(default=None, min_length=1, max_length=4096)
    channels: list[Literal["telegram", "viber"]] | None = Field(default=None, min_length=1, max_length=2)
    callback_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _recipient_and_content(self) -> NotificationCreate:
        if self.phone is None and self.order_id is None:
            raise PydanticCustomError("missing", "phone or order_id is required")
        if self.event == "text" and self.text is None:
            raise PydanticCustomError("missing", "text is required when event is \"text\"")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise PydanticCustomError("value_error", "channels must not repeat a channel")
        return self

    @property
    def resolved_event(self) -> str:
        return self.event or ("text" if self.text is not None else "order_ready")


class AttemptView(BaseModel):
    at: datetime | None
    channel: Channel
    outcome: AttemptOutcome
    error: str | None = None


class NotificationView(BaseModel):
    id: str
    status: NotificationStatus
    channel: Channel | None
    result: str | None
    phone: str | None
    order_id: str | None
    event: str
    created_at: datetime | None
    updated_at: datetime | None
    next_attempt_at: datetime | None
    attempts: list[AttemptView]


class LinkCreate(BaseModel):
    """``POST /v1/links``: a signed deep link that binds the customer's messenger to this phone."""

    model_config = ConfigDict(extra="forbid")

    phone: StrictStr = Field(min_length=1, max_length=32)
    order_id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    ttl_seconds: StrictInt | None = Field(default=None, ge=60, le=90 * 24 * 3600)


class LinkView(BaseModel):
    token: str
    phone: str
    order_id: str | None
    expires_at: datetime
    telegram_url: str | None
    viber_url: str | None


class ChannelView(BaseModel):
    linked: bool
    state: str | None
    linked_at: datetime | None


class ContactView(BaseModel):
    phone: str
    phone_verified: bool
    first_name: str | None
    last_name: str | None
    language: str | None
    telegram: ChannelView
    viber: ChannelView
    created_at: datetime | None


class ErasedView(BaseModel):
    erased: bool
    notifications_anonymized: int
    links_deleted: int
