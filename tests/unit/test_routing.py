from omnibot.domain.model import Channel, ChannelState, Contact
from omnibot.domain.routing import plan

BOTH = [Channel.TELEGRAM, Channel.VIBER]


def test_telegram_comes_before_viber() -> None:
    contact = Contact(telegram_chat_id=5, viber_user_id="v=")
    assert [(s.channel, s.address) for s in plan(contact, BOTH)] == [
        (Channel.TELEGRAM, "5"), (Channel.VIBER, "v=")]


def test_channels_without_an_account_are_left_out() -> None:
    assert [s.channel for s in plan(Contact(viber_user_id="v="), BOTH)] == [Channel.VIBER]


def test_blocked_and_unconfigured_channels_are_skipped_with_a_reason() -> None:
    contact = Contact(telegram_chat_id=5, telegram_state=ChannelState.BLOCKED, viber_user_id="v=")
    steps = list(plan(contact, [Channel.TELEGRAM]))
    assert steps[0].skip_reason == "telegram account is blocked"
    assert steps[1].skip_reason == "viber is not configured on this omnibot"
