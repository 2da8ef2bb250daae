"""Phone numbers as one canonical form: E.164, so every spelling of a number is one customer."""

from __future__ import annotations

import functools

import phonenumbers

from omnibot.domain.errors import InvalidPhone


# A shop notifies the same customers again and again; parsing a number costs more than the rest of
# accepting its notification. Numbers that do not parse are not kept (an exception is never cached).
@functools.lru_cache(maxsize=8192)
def normalize_phone(raw: str, default_region: str = "UA") -> str:
    """Return ``raw`` in E.164 (``+380501234567``) or raise :class:`InvalidPhone`.

    Messengers often send international numbers without the ``+`` (``380501234567``); a number
    that does not parse as national for ``default_region`` is retried as international.
    """
    text = raw.strip()
    candidates = [text]
    if text and not text.startswith("+"):
        candidates.append("+" + text.lstrip("0") if text.startswith("00") else "+" + text)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhone(raw)


def mask_phone(phone: str | None) -> str:
    """A phone number fit for logs: country prefix and last two digits only."""
    if not phone:
        return "-"
    return phone[:4] + "*" * max(len(phone) - 6, 0) + phone[-2:]
