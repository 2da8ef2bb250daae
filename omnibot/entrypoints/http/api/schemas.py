"""Request bodies of the shop-facing API, validated at the edge."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    HttpUrl,
    StrictInt,
    StrictStr,
    TypeAdapter,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError
from typing_extensions import TypeAliasType

from omnibot.domain.model import AttemptOutcome, Billing, Channel, NotificationStatus, Priority


class Documented:
    """JSON Schema keywords for the OpenAPI document that pydantic does not check.

    The code enforces them later and answers with codes of its own (a phone is checked by parsing
    it: ``invalid_phone``); a pydantic constraint would refuse first, with another code.
    """

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema


# PostgreSQL's text columns refuse NUL, so a body with one in any string or key is refused
# (`400 invalid_character`, `api.parse_body`), as is a lone surrogate, which JSON Schema cannot say.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[StrictStr, Documented(pattern=NO_NUL)]
# What TriggerRequest ignores beyond its fields, for the document: any JSON without NUL.
if TYPE_CHECKING:
    # mypy cannot read a TypeAliasType that names itself (python/mypy#18252), pydantic cannot
    # read a plain recursive alias: each reads its own spelling of the same type.
    JsonWithoutNul: TypeAlias = Text | float | bool | list["JsonWithoutNul"] | dict[str, "JsonWithoutNul"] | None
else:
    JsonWithoutNul = TypeAliasType(
        "JsonWithoutNul", Text | float | bool | list["JsonWithoutNul"]
        | Annotated[dict[str, "JsonWithoutNul"], Documented(propertyNames={"pattern": NO_NUL})] | None)
_IGNORED_EXTRA = TypeAdapter(JsonWithoutNul)

# The characters people write a phone with, and at least one digit. A pattern cannot say which
# numbers exist, so the description says the rest; `api.parse_phone` decides.
PHONE_PATTERN = r"^\+?[ ().-]*[0-9][0-9 ().-]*$"
PHONE_RULE = ("A phone number, any usual spelling (`+380501234567`, `050 123-45-67`): it must parse as a valid "
              "number of `DEFAULT_PHONE_REGION`, or as an international one, else `400 invalid_phone`.")
Phone = Annotated[StrictStr, Field(min_length=1, max_length=32), Documented(pattern=PHONE_PATTERN)]

# `api.parse_callback_url` decides, with domain.callback_targets; the worker checks again on each POST.
CALLBACK_URL_RULE = ("Where status callbacks go: an https or http URL of a public address, without a user name "
                     "or password; a loopback, private, link-local or other non-public address is "
                     "`400 invalid_callback_url` (`CALLBACK_ALLOW_PRIVATE` opens loopback and private ones).")

# 1-255 visible ASCII characters, spaces only between them: HTTP servers strip a header value's
# outer spaces, so a key that began or ended with one would not arrive as the shop sent it. ASCII
# only, because WSGI hands headers over as Latin-1: a UTF-8 key would arrive as other characters.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7E](?:[\x20-\x7E]{0,253}[\x21-\x7E])?$"


class TriggerRequest(BaseModel):
    """The seed's ``POST /trigger-notification`` body; extra keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    phone: Phone = Field(description=PHONE_RULE)
    order_id: Text | None = Field(default=None, min_length=1, max_length=128)
    items: list[Text] = Field(default_factory=list, max_length=200)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # Ignored, not refused: extra keys are documented as allowed, but not with a NUL anywhere.
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["propertyNames"] = {"pattern": NO_NUL}
        schema["additionalProperties"] = handler(_IGNORED_EXTRA.core_schema)
        return schema


class NotificationCreate(BaseModel):
    """``POST /v1/notifications``: ``phone`` and/or ``order_id`` name the customer; event ``text`` needs ``text``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [
        # `_recipient_and_content` for the document; `channels` not repeating is its `uniqueItems`.
        {"anyOf": [{"required": ["phone"], "properties": {"phone": {"type": "string"}}},
                   {"required": ["order_id"], "properties": {"order_id": {"type": "string"}}}]},
        {"if": {"required": ["event"], "properties": {"event": {"const": "text"}}},
         "then": {"required": ["text"], "properties": {"text": {"type": "string"}}}},
        {"not": {"required": ["expires_at", "ttl_seconds"],
                 "properties": {"expires_at": {"type": "string"}, "ttl_seconds": {"type": "integer"}}}},
    ]})

    phone: Phone | None = Field(default=None, description=PHONE_RULE)
    order_id: Text | None = Field(default=None, min_length=1, max_length=128)
    event: Literal["order_ready", "text"] | None = None
    items: list[Text] = Field(default_factory=list, max_length=200)
    text: Text | None = Field(default=None, min_length=1, max_length=4096)
    channels: Annotated[list[Literal["telegram", "viber"]], Field(min_length=1, max_length=2),
                        Documented(uniqueItems=True)] | None = None
    callback_url: HttpUrl | None = Field(default=None, description=CALLBACK_URL_RULE)
    expires_at: AwareDatetime | None = Field(
        default=None, description="The deadline: past it nothing is sent and the notification is `expired`. "
                                  "An RFC 3339 time with its offset, in the future.")
    ttl_seconds: StrictInt | None = Field(
        default=None, ge=1, le=90 * 24 * 3600,
        description="The deadline in seconds from acceptance, instead of `expires_at`. Neither: "
                    "`NOTIFICATION_TTL_SECONDS` (24 hours unless the operators changed it).")
    priority: Priority = Field(
        default=Priority.NORMAL,
        description="`high` goes before everything waiting and through quiet hours; `bulk` (announcements) "
                    "only with what normal and high ones leave free, so a million of them delay no order message.")

    @model_validator(mode="after")
    def _recipient_and_content(self) -> NotificationCreate:
        if self.phone is None and self.order_id is None:
            raise PydanticCustomError("missing", "phone or order_id is required")
        if self.event == "text" and self.text is None:
            raise PydanticCustomError("missing", "text is required when event is \"text\"")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise PydanticCustomError("value_error", "channels must not repeat a channel")
        if self.expires_at is not None and self.ttl_seconds is not None:
            raise PydanticCustomError("value_error", "give expires_at or ttl_seconds, not both")
        return self

    @property
    def resolved_event(self) -> str:
        return self.event or ("text" if self.text is not None else "order_ready")


# A price as the shop reads it: digits with an optional fraction, never a float that would round.
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"


class PriceView(BaseModel):
    """What the messenger bills for one send."""

    amount: str = Field(pattern=DECIMAL_PATTERN, description="A decimal number as a string (`0.1`), exact.")
    currency: str = Field(description="`XTR` (Telegram Stars: a paid broadcast's message above the free rate), "
                                      "or an ISO 4217 code.")


class AttemptView(BaseModel):
    at: datetime | None
    channel: Channel
    outcome: AttemptOutcome
    error: str | None = None
    price: PriceView | None = Field(description="What the messenger bills for this send; `null` when it is free "
                                                "or its price is not configured (`VIBER_MESSAGE_PRICE`).")
    billable: bool = Field(description="Whether the messenger bills this send.")
    billing: Billing | None = Field(
        default=None, description="How Viber counts this send: `free_session` (the customer wrote in the last "
                                  "24 hours), `free_quota` (one of the month's free messages) or `billable`; "
                                  "`null` on Telegram.")


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
    expires_at: datetime | None = Field(default=None, description="The deadline; `null`: none.")
    priority: Priority = Priority.NORMAL
    attempts: list[AttemptView]


class LinkCreate(BaseModel):
    """``POST /v1/links``: a signed deep link that binds the customer's messenger to this phone."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone = Field(description=PHONE_RULE)
    order_id: Text | None = Field(default=None, min_length=1, max_length=128)
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
