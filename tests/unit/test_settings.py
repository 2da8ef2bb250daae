import pytest

from omnibot.settings import ConfigurationError, Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ["TELEGRAM_BOT_TOKEN", "VIBER_AUTH_TOKEN", "INTERNAL_API_KEY", "DATABASE_URL",
                 "TELEGRAM_API_URL", "VIBER_API_URL", "TELEGRAM_WEBHOOK_SECRET",
                 "DEFAULT_PHONE_REGION", "VIBER_SENDER_NAME"]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_point_at_the_real_messengers() -> None:
    settings = Settings.from_env()
    assert str(settings.telegram_api_url) == "https://api.telegram.org/"
    assert str(settings.viber_api_url) == "https://chatapi.viber.com/pa"
    assert settings.default_phone_region == "UA"
    assert settings.database_url is None


def test_several_api_keys_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERNAL_API_KEY", "old-key, new-key")
    assert Settings.from_env().api_keys() == ["old-key", "new-key"]


def test_every_bad_variable_is_named_and_no_value_is_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_API_URL", "not-a-url")
    monkeypatch.setenv("DEFAULT_PHONE_REGION", "XX")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "has spaces SECRETVALUE")
    monkeypatch.setenv("VIBER_SENDER_NAME", "a sender name far longer than Viber allows")
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env()
    text = str(caught.value)
    for name in ["TELEGRAM_API_URL", "DEFAULT_PHONE_REGION", "TELEGRAM_WEBHOOK_SECRET", "VIBER_SENDER_NAME"]:
        assert name in text
    assert "SECRETVALUE" not in text


def test_serving_needs_an_api_key_and_a_messenger() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env().require_serving()
    assert "INTERNAL_API_KEY" in str(caught.value)
    assert "TELEGRAM_BOT_TOKEN" in str(caught.value)


@pytest.mark.parametrize(("raw", "days"), [(None, 90), ("0", 0), ("31", 31), ("365", 365)])
def test_notification_retention_is_0_for_ever_or_at_least_a_month(monkeypatch: pytest.MonkeyPatch,
                                                                   raw: str | None, days: int) -> None:
    if raw is None:
        monkeypatch.delenv("NOTIFICATION_RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("NOTIFICATION_RETENTION_DAYS", raw)
    assert Settings.from_env().notification_retention_days == days


@pytest.mark.parametrize("raw", ["7", "30", "-1"])
def test_a_retention_shorter_than_a_month_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    # Shorter would delete attempts the dashboard counts against this month's Viber budget.
    monkeypatch.setenv("NOTIFICATION_RETENTION_DAYS", raw)
    with pytest.raises(ConfigurationError, match="NOTIFICATION_RETENTION_DAYS"):
        Settings.from_env()
