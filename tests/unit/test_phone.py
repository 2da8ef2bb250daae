import pytest

from omnibot.domain.errors import InvalidPhone
from omnibot.domain.phone import mask_phone, normalize_phone


@pytest.mark.parametrize("raw", ["+380501234567", "+380 50 123 45 67", "0501234567",
                                 "380501234567", "(050) 123-45-67", "00380501234567"])
def test_every_spelling_of_a_ukrainian_number_is_one_e164(raw: str) -> None:
    assert normalize_phone(raw, "UA") == "+380501234567"


def test_national_number_uses_the_configured_region() -> None:
    assert normalize_phone("501234567", "PL") == "+48501234567"


@pytest.mark.parametrize("raw", ["", "hello", "+380", "12", "+38050123456789012"])
def test_garbage_is_an_invalid_phone(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw, "UA")


def test_masked_phone_hides_the_subscriber_digits() -> None:
    assert mask_phone("+380501234567") == "+380*******67"
    assert mask_phone(None) == "-"


def test_a_repeated_number_is_parsed_once_and_a_bad_one_refused_every_time() -> None:
    normalize_phone.cache_clear()
    assert normalize_phone("050 123 45 67") == normalize_phone("050 123 45 67") == "+380501234567"
    assert normalize_phone.cache_info().hits == 1
    for _ in range(2):
        with pytest.raises(InvalidPhone):
            normalize_phone("not a phone")
