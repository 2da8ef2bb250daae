"""The subset of Telegram updates and Viber callbacks omnibot reads, as validated models.

Unknown fields are ignored, so new messenger features never break intake.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# Telegram's ids and Viber's message tokens fit in 64 bits: a larger number comes from no
# messenger, and no database column could hold it (a 400, not an OverflowError).
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TelegramUser(_Lenient):
    id: Int64
    is_bot: bool = False
    first_name: str | None = None
    last_name: str | None = None
    language_code: str | None = None


class TelegramChat(_Lenient):
    id: Int64
    type: str = "private"


class TelegramContact(_Lenient):
    phone_number: str
    first_name: str | None = None
    user_id: Int64 | None = None


class TelegramMessage(_Lenient):
    message_id: Int64 | None = None
    sender: TelegramUser | None = Field(default=None, alias="from")
    chat: TelegramChat
    text: str | None = None
    contact: TelegramContact | None = None


class TelegramChatMember(_Lenient):
    status: str


class TelegramMemberUpdate(_Lenient):
    chat: TelegramChat
    sender: TelegramUser = Field(alias="from")
    new_chat_member: TelegramChatMember


class TelegramUpdate(_Lenient):
    update_id: Int64
    message: TelegramMessage | None = None
    my_chat_member: TelegramMemberUpdate | None = None


class ViberUser(_Lenient):
    id: str
    name: str | None = None
    language: str | None = None


class ViberContact(_Lenient):
    phone_number: str | None = None
    name: str | None = None


class ViberMessage(_Lenient):
    type: str
    text: str | None = None
    contact: ViberContact | None = None
    tracking_data: str | None = None  # echoed from the bot's last message to this customer


class ViberCallback(_Lenient):
    event: str
    user: ViberUser | None = None  # conversation_started, subscribed
    sender: ViberUser | None = None  # message
    user_id: str | None = None  # unsubscribed, delivered, seen, failed
    context: str | None = None
    message: ViberMessage | None = None
    message_token: Int64 | None = None
    desc: str | None = None  # failed
