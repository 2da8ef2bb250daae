"""Viber's billing in the sandbox: which send_message calls were free and which the bot paid for.

The sandbox runs on a clock the tests move, so a session ends or a month turns in no time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from omnibot_sandbox import SANDBOX_VIBER_BOT_URI, SandboxConfig, create_app
from omnibot_sandbox.cli import initial_faults, sandbox_command
from omnibot_sandbox.fault_settings import FaultSettings, RateLimits
from omnibot_sandbox.traffic import Traffic
from omnibot_sandbox.viber_billing import NO_BALANCE
from tests.sandbox_helpers import SandboxClient, WebhookReceiver, webhook_receiver

DAY = 86_400.0
# An hour before a month turns, in UTC.
LAST_HOUR_OF_JANUARY = datetime(2026, 1, 31, 23, tzinfo=UTC).timestamp()
SENDER = {"name": "Omnibot Shop"}
IN_SESSION, BILLED = 2, 5  # billing_status of a per-message (billable) bot
QUOTA_IN_SESSION, QUOTA_FREE = 1, 3  # billing_status of a quota-model (non-billable) bot


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Billed:
    """A sandbox on a test clock with a Viber webhook set."""

    sandbox: SandboxClient
    clock: Clock
    webhook: WebhookReceiver

    def terms(self, **rate_limits: Any) -> None:
        response = self.sandbox.http.put("/sandbox/faults", json={"rate_limits": {"enforce": False, **rate_limits}})
        assert response.status_code == 200, response.get_json()

    def customer(self, phone: str = "+380501234567", writes: bool = True) -> tuple[str, str]:
        """A subscribed customer: (sandbox id, Viber id); ``writes``: subscribed by writing to the bot."""
        customer = self.sandbox.customer(phone=phone)
        if writes:
            self.sandbox.act(customer["id"], "viber/text", text="hi")
        else:
            self.sandbox.act(customer["id"], "viber/subscribe")
        return customer["id"], customer["viber"]["user_id"]

    def send(self, user_id: str) -> dict[str, Any]:
        return self.sandbox.viber("send_message", {"receiver": user_id, "min_api_version": 1, "sender": SENDER,
                                                   "type": "text", "text": "Your order ORD-1 is ready"})

    def statuses(self, user_id: str, count: int) -> list[int | None]:
        return [self.send(user_id).get("billing_status") for _ in range(count)]

    def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = self.sandbox.http.get("/sandbox/stats").get_json()
        return found


@contextmanager
def billed_sandbox(config: SandboxConfig | None = None) -> Iterator[Billed]:
    clock = Clock(LAST_HOUR_OF_JANUARY)
    sandbox = SandboxClient(create_app(config, clock=clock).test_client())
    with webhook_receiver() as receiver:
        assert sandbox.viber("set_webhook", {"url": receiver.url})["status"] == 0
        yield Billed(sandbox, clock, receiver)


@pytest.fixture
def billed() -> Iterator[Billed]:
    with billed_sandbox() as sandbox:
        yield sandbox


def test_sends_inside_the_session_are_free_and_outside_it_billable(billed: Billed) -> None:
    customer, user_id = billed.customer()
    answer = billed.send(user_id)
    assert (answer["status"], answer["billing_status"]) == (0, IN_SESSION)
    billed.clock.now += DAY - 1
    assert billed.send(user_id)["billing_status"] == IN_SESSION
    billed.clock.now += 1  # 24 hours after the customer wrote: the session is over
    assert billed.send(user_id)["billing_status"] == BILLED
    billed.sandbox.act(customer, "viber/share-contact")  # any message opens it again
    assert billed.send(user_id)["billing_status"] == IN_SESSION

    received = billed.sandbox.messages(customer, "viber")
    assert [(m["billing"], m["billing_status"]) for m in received] == [
        ("free_session", 2), ("free_session", 2), ("billable", 5), ("free_session", 2)]
    sends = [r for r in billed.sandbox.requests()["requests"] if r["method"] == "send_message"]
    assert [r["billing"] for r in sends] == ["free_session", "free_session", "billable", "free_session"]
    figures = billed.stats()
    assert figures["viber_billing"] == {"free_session": 3, "free_quota": 0, "billable": 1}
    assert (figures["viber_free_messages_left"], figures["viber_balance_messages"]) == (0, None)


def test_opening_the_chat_or_subscribing_opens_no_session(billed: Billed) -> None:
    _, subscribed_only = billed.customer(writes=False)
    assert billed.send(subscribed_only)["billing_status"] == BILLED
    opener = billed.sandbox.customer(phone="+380502222222")
    billed.sandbox.act(opener["id"], "viber/open", context="ORD-1")
    billed.sandbox.act(opener["id"], "viber/subscribe")
    assert billed.send(opener["viber"]["user_id"])["billing_status"] == BILLED
    assert billed.stats()["viber_billing"]["billable"] == 2


def test_a_shrunk_session_ends_when_the_tests_say(billed: Billed) -> None:
    billed.terms(viber_session_seconds=60)
    customer, user_id = billed.customer()
    billed.clock.now += 59.5
    assert billed.send(user_id)["billing_status"] == IN_SESSION
    billed.clock.now += 0.5
    assert billed.send(user_id)["billing_status"] == BILLED
    assert billed.sandbox.http.get("/sandbox/faults").get_json()["rate_limits"]["viber_session_seconds"] == 60


def test_the_welcome_message_is_not_billed(billed: Billed) -> None:
    customer = billed.sandbox.customer()
    billed.webhook.answer(200, {"sender": SENDER, "type": "text", "text": "Welcome"})
    report = billed.sandbox.act(customer["id"], "open-link",
                                url=f"viber://pa?chatURI={SANDBOX_VIBER_BOT_URI}&context=ORD-1")
    assert report["welcome_message"]["status"] == 0 and "billing_status" not in report["welcome_message"]
    [welcome] = billed.sandbox.messages(customer["id"], "viber")
    assert welcome["billing"] is None
    assert billed.stats()["viber_billing"] == {"free_session": 0, "free_quota": 0, "billable": 0}


def test_the_quota_model_frees_the_first_messages_of_each_month(billed: Billed) -> None:
    billed.terms(viber_billing="quota", viber_free_messages_per_month=2, viber_session_seconds=60)
    customer, user_id = billed.customer()
    assert billed.send(user_id)["billing_status"] == QUOTA_IN_SESSION  # in session: the quota is untouched
    billed.clock.now += 60
    assert billed.statuses(user_id, 3) == [QUOTA_FREE, QUOTA_FREE, BILLED]
    figures = billed.stats()
    assert figures["viber_billing"] == {"free_session": 1, "free_quota": 2, "billable": 1}
    assert figures["viber_free_messages_left"] == 0
    billed.clock.now += 3600  # 00:01 on the first of February, UTC: two free messages again
    assert billed.stats()["viber_free_messages_left"] == 2
    assert billed.statuses(user_id, 3) == [QUOTA_FREE, QUOTA_FREE, BILLED]
    assert [m["billing"] for m in billed.sandbox.messages(customer, "viber")][-3:] == [
        "free_quota", "free_quota", "billable"]


def test_the_free_messages_belong_to_the_quota_model(billed: Billed) -> None:
    billed.terms(viber_free_messages_per_month=5)  # per_message: every bot-initiated message is billed
    _, user_id = billed.customer(writes=False)
    assert billed.statuses(user_id, 2) == [BILLED, BILLED]
    assert billed.stats()["viber_free_messages_left"] == 0


def test_an_empty_balance_refuses_billable_sends_with_no_balance(billed: Billed) -> None:
    billed.terms(viber_balance_messages=1)
    customer, user_id = billed.customer(writes=False)
    assert billed.send(user_id)["billing_status"] == BILLED
    refused = billed.send(user_id)
    assert (refused["status"], refused["status_message"]) == (24, "noBalance")
    assert "billing_status" not in refused and len(billed.sandbox.messages(customer, "viber")) == 1
    last = billed.sandbox.requests()["requests"][-1]
    assert (last["ok"], last["status"], "billing" in last) == (False, 24, False)
    billed.sandbox.act(customer, "viber/text", text="still there?")
    assert billed.send(user_id)["billing_status"] == IN_SESSION  # a session costs nothing: still allowed
    figures = billed.stats()
    assert figures["viber_billing"] == {"free_session": 1, "free_quota": 0, "billable": 1}
    assert figures["viber_balance_messages"] == 0
    assert figures["over_limit"]["viber_user"] == 0  # not a rate limit


def test_the_quota_model_past_its_free_messages_and_balance_is_free_messages_exceeded(billed: Billed) -> None:
    billed.terms(viber_billing="quota", viber_free_messages_per_month=1, viber_balance_messages=0)
    _, user_id = billed.customer(writes=False)
    assert billed.send(user_id)["billing_status"] == QUOTA_FREE
    refused = billed.send(user_id)
    assert (refused["status"], refused["status_message"]) == (23, "freeMessagesExceeded")
    assert billed.stats()["viber_billing"] == {"free_session": 0, "free_quota": 1, "billable": 0}


def test_refused_and_failed_sends_count_nothing_and_pay_nothing(billed: Billed) -> None:
    billed.terms(viber_billing="quota", viber_free_messages_per_month=1, viber_balance_messages=1,
                 enforce=True, viber_per_user_per_hour=3)
    unsubscribed = billed.sandbox.customer(phone="+380503333333")
    assert billed.send(unsubscribed["viber"]["user_id"])["status"] == 6  # takes back its free message
    _, user_id = billed.customer(writes=False)
    fault = {"error_rates": {"viber.send_message": {"rate": 1, "status": 12}}}
    assert billed.sandbox.http.patch("/sandbox/faults", json=fault).status_code == 200
    assert billed.send(user_id)["status"] == 12  # injected: never reached billing
    assert billed.sandbox.http.patch("/sandbox/faults", json={"error_rates": None}).status_code == 200
    assert billed.statuses(user_id, 2) == [QUOTA_FREE, BILLED]
    assert billed.stats()["viber_balance_messages"] == 0
    billed.sandbox.http.put("/sandbox/faults", json={"rate_limits": {
        "viber_billing": "quota", "viber_balance_messages": 5, "viber_per_user_per_hour": 1}})
    assert billed.send(user_id)["billing_status"] == BILLED
    assert billed.send(user_id)["status"] == 12  # the hourly cap: it spends none of the balance
    figures = billed.stats()
    assert figures["viber_billing"] == {"free_session": 0, "free_quota": 1, "billable": 2}
    assert figures["viber_balance_messages"] == 4 and figures["over_limit"]["viber_user"] == 1


def test_billing_counters_reset_with_the_stats_and_sessions_with_the_sandbox() -> None:
    initial = FaultSettings.model_validate({"rate_limits": {"enforce": False, "viber_balance_messages": 3}})
    with billed_sandbox(SandboxConfig(faults=initial)) as billed:
        customer, user_id = billed.customer()
        assert billed.statuses(user_id, 1) == [IN_SESSION]
        billed.clock.now += DAY
        assert billed.statuses(user_id, 1) == [BILLED]

        reset = billed.sandbox.http.post("/sandbox/stats/reset").get_json()
        assert reset["viber_billing"] == {"free_session": 0, "free_quota": 0, "billable": 0}
        assert reset["viber_balance_messages"] == 2  # a state, not a counter
        billed.sandbox.act(customer, "viber/text", text="hi again")
        assert billed.statuses(user_id, 1) == [IN_SESSION]

        assert billed.sandbox.http.post("/sandbox/reset").status_code == 200
        figures = billed.stats()
        assert figures["viber_billing"] == {"free_session": 0, "free_quota": 0, "billable": 0}
        assert figures["viber_balance_messages"] == 3


def test_sessions_are_forgotten_with_the_sandbox(billed: Billed) -> None:
    _, user_id = billed.customer()
    assert billed.sandbox.http.post("/sandbox/reset").status_code == 200
    assert billed.sandbox.viber("set_webhook", {"url": billed.webhook.url})["status"] == 0
    # The first customer after a reset gets the same Viber id, but not the old customer's session.
    _, same_id = billed.customer(writes=False)
    assert same_id == user_id
    assert billed.send(same_id)["billing_status"] == BILLED


def test_concurrent_billable_sends_never_overdraw_the_balance() -> None:
    now = [LAST_HOUR_OF_JANUARY]
    traffic = Traffic(lambda: now[0])
    traffic.configure(RateLimits(enforce=False, viber_balance_messages=1))
    first = traffic.admit("viber", "user-a", chatbot_message=True)
    assert first.billing is not None and first.billing.kind == "billable"
    # The first is not settled yet, but its message is held back: the second finds none.
    assert traffic.admit("viber", "user-b", chatbot_message=True).over == NO_BALANCE
    traffic.settled("viber", first, delivered=False)
    second = traffic.admit("viber", "user-b", chatbot_message=True)
    traffic.settled("viber", second, delivered=True)
    figures = traffic.stats()
    assert figures["viber_billing"]["billable"] == 1 and figures["viber_balance_messages"] == 0
    # A send that is not send_message (the welcome) is not billed at all.
    assert traffic.admit("viber", "user-c").billing is None


def test_billing_terms_are_checked_and_shown_only_when_chosen(billed: Billed) -> None:
    assert "viber_billing" not in billed.sandbox.http.put(
        "/sandbox/faults", json={"rate_limits": {"enforce": False}}).get_json()["rate_limits"]
    bad = billed.sandbox.http.put("/sandbox/faults", json={"rate_limits": {"viber_billing": "monthly"}})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "rate_limits.viber_billing"
    negative = billed.sandbox.http.put("/sandbox/faults", json={"rate_limits": {"viber_balance_messages": -1}})
    assert negative.status_code == 400
    patched = billed.sandbox.http.patch("/sandbox/faults", json={"rate_limits": {"viber_billing": "quota"}})
    assert patched.get_json()["rate_limits"]["viber_billing"] == "quota"


def test_cli_flags_set_the_billing_terms() -> None:
    params = sandbox_command.make_context("sandbox", [
        "--viber-billing", "quota", "--viber-free-messages-per-month", "10000",
        "--viber-session-seconds", "120", "--viber-balance-messages", "50"]).params
    terms = {name: params[name] for name in ("viber_billing", "viber_free_messages_per_month",
                                             "viber_session_seconds", "viber_balance_messages")}
    faults = initial_faults(0, 0, False, None, None, (), None, terms)
    assert faults is not None and faults.to_json()["rate_limits"] == {
        "enforce": False, "telegram_per_chat_per_second": 1.0, "telegram_chat_burst": 1.0,
        "telegram_per_second": 30.0, "telegram_paid_per_second": 1000.0, "telegram_stars_balance": 100000.0,
        "viber_per_user_per_hour": 100, "viber_billing": "quota", "viber_free_messages_per_month": 10000,
        "viber_session_seconds": 120.0, "viber_balance_messages": 50}
    assert initial_faults(0, 0, False, None, None, (), None, dict.fromkeys(terms)) is None
