"""Paid broadcasts in the sandbox (Bot API 7.11): ``allow_paid_broadcast`` on sendMessage.

The limits are small (2 free sends a second, 20 paid) so that a burst shows every rule at once;
the HTTP tests send each burst well within half a second, before the free bucket refills a token.
"""

from __future__ import annotations

from typing import Any

import pytest

from omnibot_sandbox import SANDBOX_TELEGRAM_TOKEN, SandboxConfig, create_app
from omnibot_sandbox.fault_answers import NOT_ENOUGH_STARS
from omnibot_sandbox.fault_settings import FaultSettings, RateLimits
from omnibot_sandbox.traffic import SHORT_OF_STARS, Traffic
from tests.sandbox_helpers import SandboxClient

TELEGRAM = f"/bot{SANDBOX_TELEGRAM_TOKEN}"
SMALL_LIMITS = {"telegram_per_second": 2, "telegram_paid_per_second": 20}
TOO_MANY_FOR_A_SECOND = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}}
SHORT_OF_STARS_ANSWER = {"ok": False, "error_code": 400, "description": NOT_ENOUGH_STARS}


def limit(sandbox: SandboxClient, **rate_limits: Any) -> None:
    response = sandbox.http.put("/sandbox/faults", json={"rate_limits": {**SMALL_LIMITS, **rate_limits}})
    assert response.status_code == 200, response.get_json()


def stats(sandbox: SandboxClient) -> dict[str, Any]:
    found: dict[str, Any] = sandbox.http.get("/sandbox/stats").get_json()
    return found


def chats(sandbox: SandboxClient, count: int) -> list[tuple[str, int]]:
    """Customers who started the bot: (sandbox id, chat id) each."""
    started = []
    for n in range(count):
        customer = sandbox.customer(phone=f"+3805000{n:05d}")
        sandbox.act(customer["id"], "telegram/start")
        started.append((customer["id"], customer["telegram"]["user_id"]))
    return started


def send(sandbox: SandboxClient, chat_id: int, paid: bool = False) -> tuple[int, Any]:
    return sandbox.telegram("sendMessage", chat_id=chat_id, text="Sale starts now", allow_paid_broadcast=paid)


def paid_figures(sandbox: SandboxClient) -> tuple[int, float, float | None]:
    figures = stats(sandbox)
    return figures["telegram_paid"], figures["telegram_stars_spent"], figures["telegram_stars_balance"]


def test_plain_sends_beyond_the_free_rate_are_429(sandbox: SandboxClient) -> None:
    targets = chats(sandbox, 3)
    limit(sandbox)
    assert [send(sandbox, chat)[0] for _, chat in targets[:2]] == [200, 200]
    assert send(sandbox, targets[2][1]) == (429, TOO_MANY_FOR_A_SECOND)
    assert stats(sandbox)["over_limit"]["telegram_bot"] == 1
    assert paid_figures(sandbox) == (0, 0.0, 100000.0)


def test_paid_broadcasts_go_up_to_the_paid_rate_and_pay_only_above_the_free_share(
        sandbox: SandboxClient) -> None:
    targets = chats(sandbox, 21)
    limit(sandbox)
    answers = [send(sandbox, chat, paid=True) for _, chat in targets[:20]]
    # The free share is shared: the paid broadcasts took its tokens, so a plain send finds none.
    assert send(sandbox, targets[20][1]) == (429, TOO_MANY_FOR_A_SECOND)
    assert [status for status, _ in answers] == [200] * 20
    assert all(len(sandbox.messages(customer, "telegram")) == 1 for customer, _ in targets[:20])
    figures = stats(sandbox)
    assert figures["delivered"]["telegram"] == 20 and figures["max_per_bot_in_any_second"] == 20
    assert (figures["telegram_paid"], figures["telegram_stars_spent"]) == (18, 1.8)
    assert figures["telegram_stars_balance"] == 99998.2
    assert figures["over_limit"] == {"telegram_bot": 1, "telegram_chat": 0, "viber_user": 0}


def test_the_per_chat_limit_still_refuses_a_second_paid_broadcast_within_a_second(
        sandbox: SandboxClient) -> None:
    (first, first_chat), (_, second_chat), (third, third_chat) = chats(sandbox, 3)
    limit(sandbox)
    assert send(sandbox, first_chat, paid=True)[0] == 200
    assert send(sandbox, first_chat, paid=True) == (429, TOO_MANY_FOR_A_SECOND)
    assert send(sandbox, second_chat, paid=True)[0] == 200
    assert send(sandbox, third_chat, paid=True)[0] == 200  # the free share is used up: this one is paid
    assert send(sandbox, third_chat, paid=True) == (429, TOO_MANY_FOR_A_SECOND)
    assert [len(sandbox.messages(c, "telegram")) for c in (first, third)] == [1, 1]
    assert stats(sandbox)["over_limit"]["telegram_chat"] == 2
    assert paid_figures(sandbox) == (1, 0.1, 99999.9)  # the refused ones cost nothing


def test_an_empty_balance_answers_not_enough_stars_and_counts_nothing(sandbox: SandboxClient) -> None:
    targets = chats(sandbox, 3)
    limit(sandbox, telegram_stars_balance=0)
    assert [send(sandbox, chat, paid=True)[0] for _, chat in targets[:2]] == [200, 200]  # the free share
    customer, chat = targets[2]
    assert send(sandbox, chat, paid=True) == (400, SHORT_OF_STARS_ANSWER)
    assert sandbox.messages(customer, "telegram") == []
    [refused] = [r for r in sandbox.requests()["requests"] if r["method"] == "sendMessage" and not r["ok"]]
    assert (refused["error_code"], refused["description"]) == (400, NOT_ENOUGH_STARS)
    # It took no token from the chat either: what stops this plain send is the bot's free rate.
    assert send(sandbox, chat) == (429, TOO_MANY_FOR_A_SECOND)
    figures = stats(sandbox)
    assert figures["over_limit"] == {"telegram_bot": 1, "telegram_chat": 0, "viber_user": 0}
    assert figures["delivered"]["telegram"] == 2
    assert paid_figures(sandbox) == (0, 0.0, 0.0)


def test_a_paid_broadcast_that_fails_gets_its_stars_back(sandbox: SandboxClient) -> None:
    targets = chats(sandbox, 5)
    blocked = targets[2]
    sandbox.act(blocked[0], "telegram/block")
    limit(sandbox, telegram_stars_balance=0.1)
    assert [send(sandbox, chat, paid=True)[0] for _, chat in targets[:2]] == [200, 200]
    assert send(sandbox, 999_999, paid=True)[1]["description"] == "Bad Request: chat not found"
    assert send(sandbox, blocked[1], paid=True)[0] == 403
    assert send(sandbox, targets[3][1], paid=True)[0] == 200  # the one 0.1 Star is still there
    assert send(sandbox, targets[4][1], paid=True) == (400, SHORT_OF_STARS_ANSWER)
    assert paid_figures(sandbox) == (1, 0.1, 0.0)


@pytest.mark.parametrize(("encoding", "value", "paid"), [
    ("json", True, True), ("json", False, False), ("json", "true", True),
    ("form", "true", True), ("form", "1", True), ("form", "false", False),
    ("query", "true", True), ("query", "false", False),
])
def test_allow_paid_broadcast_is_read_from_every_encoding(sandbox: SandboxClient, encoding: str, value: Any,
                                                          paid: bool) -> None:
    targets = chats(sandbox, 3)
    limit(sandbox)
    assert [send(sandbox, chat)[0] for _, chat in targets[:2]] == [200, 200]  # the free share, used up
    fields = {"chat_id": targets[2][1], "text": "Sale starts now", "allow_paid_broadcast": value}
    url = f"{TELEGRAM}/sendMessage"
    if encoding == "json":
        response = sandbox.http.post(url, json=fields)
    elif encoding == "form":
        response = sandbox.http.post(url, data=fields)
    else:
        response = sandbox.http.post(url, query_string=fields)
    assert response.status_code == (200 if paid else 429)
    assert stats(sandbox)["telegram_paid"] == (1 if paid else 0)


def test_nothing_is_charged_when_limits_are_not_enforced(sandbox: SandboxClient) -> None:
    targets = chats(sandbox, 40)
    assert all(send(sandbox, chat, paid=True)[0] == 200 for _, chat in targets)
    assert paid_figures(sandbox) == (0, 0.0, None)


def test_paid_counters_reset_with_the_stats_and_the_balance_with_the_sandbox() -> None:
    initial = FaultSettings.model_validate({"rate_limits": {**SMALL_LIMITS, "telegram_stars_balance": 5}})
    sandbox = SandboxClient(create_app(SandboxConfig(faults=initial)).test_client())
    targets = chats(sandbox, 4)
    assert all(send(sandbox, chat, paid=True)[0] == 200 for _, chat in targets)
    assert paid_figures(sandbox) == (2, 0.2, 4.8)

    reset = sandbox.http.post("/sandbox/stats/reset").get_json()
    assert (reset["telegram_paid"], reset["telegram_stars_spent"], reset["telegram_stars_balance"]) == (0, 0.0, 4.8)
    assert sandbox.http.post("/sandbox/reset").status_code == 200
    assert paid_figures(sandbox) == (0, 0.0, 5.0)


def test_paid_buckets_and_charges_follow_the_clock() -> None:
    now = [1000.0]
    traffic = Traffic(lambda: now[0])
    traffic.configure(RateLimits(telegram_per_second=2, telegram_paid_per_second=20, telegram_stars_balance=1.75))
    burst = [traffic.admit("telegram", f"chat-{n}", paid_broadcast=True) for n in range(20)]
    # Two free, then 1.75 Stars pay for 17; the 20th finds the balance short and takes no token.
    assert [admission.over for admission in burst] == [None] * 19 + [SHORT_OF_STARS]
    assert [admission.charged_to is not None for admission in burst] == [False] * 2 + [True] * 17 + [False]

    for admission in burst[:19]:
        traffic.settled("telegram", admission, delivered=admission is not burst[18])  # one charged send fails
    figures = traffic.stats()
    assert (figures["telegram_paid"], figures["telegram_stars_spent"], figures["telegram_stars_balance"]) == (
        16, 1.6, 0.1)

    assert traffic.admit("telegram", "chat-20", paid_broadcast=True).charged_to is not None  # the Star given back
    refused = traffic.admit("telegram", "chat-21", paid_broadcast=True)
    assert (refused.over, refused.retry_after) == ("telegram_bot", 1)  # the paid bucket is empty
    now[0] += 1 / 20  # a paid token again, but no free one and no Stars
    assert traffic.admit("telegram", "chat-22", paid_broadcast=True).over == SHORT_OF_STARS
    now[0] += 0.5  # a free token: the next paid broadcast takes it and costs nothing
    free = traffic.admit("telegram", "chat-23", paid_broadcast=True)
    assert not free.refused and free.charged_to is None
    assert traffic.admit("telegram", "chat-24").over == "telegram_bot"
    assert traffic.stats()["over_limit"]["telegram_bot"] == 2
