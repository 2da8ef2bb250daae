"""Request bodies of the shop-facing API, validated at the edge."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class TriggerRequest(BaseModel):
    """The seed's ``POST /trigger-notification`` body; extra keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    phone: StrictStr = Field(min_length=1, max_length=32)
    order_id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    items: list[StrictStr] = Field(default_factory=list, max_length=200)
