"""The sandbox's faults and rate limits: latency, injected errors, outages, 429s, and the stats."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import click
import httpx
import pytest

from omnibot_sandbox import SANDBOX_TELEGRAM_TOKEN, SANDBOX_VIBER_TOKEN, SandboxConfig, create_app
from omnibot_sandbox.cli import error_rule, initial_faults, sandbox_command
from omnibot_sandbox.fault_settings import FaultSettings, RateLimits
from omnibot_sandbox.traffic import Traffic
from tests.sandbox_helpers import SandboxClient, WebhookReceiver, served_sandbox, webhook_receiver

TELEGRAM = f"/bot{SANDBOX_TELEGRAM_TOKEN}"
VIBER_HEADERS = {"X-Viber-Auth-Token": SANDBOX_VIBER_TOKEN}
TOO_MANY_FOR_A_SECOND = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                         "parameters": {"retry_after": 1}}


@pytest.fixture
def webhook(sandbox: SandboxClient) -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        sandbox.viber("set_webhook", {"url": receiver.url})
        yield receiver


def put_faults(sandbox: SandboxClient, **faults: Any) -> dict[str, Any]:
    response = sandbox.http.put("/sandbox/faults", json=faults)
    assert response.status_code == 200, response.get_json()
    shown: dict[str, Any] = response.get_json()
    return shown


def stats(sandbox: SandboxClient) -> dict[str, Any]:
    found: dict[str, Any] = sandbox.http.get("/sandbox/stats").get_json()
    return found


def telegram_chat(sandbox: SandboxClient, phone: str = "+380501234567") -> tuple[str, int]:
    """A customer who started the bot: (sandbox id, chat id)."""
    customer = sandbox.customer(phone=phone)
    sandbox.act(customer["id"], "telegram/start")
    return customer["id"], customer["telegram"]["user_id"]


def viber_user(sandbox: SandboxClient, phone: str = "+380501234567") -> tuple[str, str]:
    """A customer subscribed to the bot: (sandbox id, Viber user id)."""
    customer = sandbox.customer(phone=phone)
    sandbox.act(customer["id"], "viber/subscribe")
    return customer["id"], customer["viber"]["user_id"]


def send(sandbox: SandboxClient, chat_id: int, text: str = "Your order has shipped") -> tuple[int, Any]:
    return sandbox.telegram("sendMessage", chat_id=chat_id, text=text)


def viber_send(sandbox: SandboxClient, receiver: str) -> Any:
    response = sandbox.http.post("/pa/send_message", headers=VIBER_HEADERS, json={
        "receiver": receiver, "sender": {"name": "Shop"}, "type": "text", "text": "Your order has shipped"})
    return response


# --- the control API ----------------------------------------------------------------------------


def test_faults_are_replaced_merged_shown_and_cleared(sandbox: SandboxClient) -> None:
    put_faults(sandbox, latency={"fixed_ms": 5}, seed=7,
               error_rates={"telegram.sendMessage": {"rate": 0.2, "error_code": 502}})
    shown = sandbox.http.get("/sandbox/faults").get_json()
    assert shown["latency"] == {"fixed_ms": 5} and shown["seed"] == 7
    assert shown["error_rates"] == {"telegram.sendMessage": {"rate": 0.2, "error_code": 502}}

    merged = sandbox.http.patch("/sandbox/faults", json={
        "latency": None, "rate_limits": {"telegram_per_second": 10},
        "error_rates": {"viber.send_message": {"rate": 0.1, "status": 12}}}).get_json()
    assert "latency" not in merged and merged["seed"] == 7
    assert set(merged["error_rates"]) == {"telegram.sendMessage", "viber.send_message"}
    assert merged["rate_limits"]["enforce"] is True and merged["rate_limits"]["telegram_per_second"] == 10
    assert merged["rate_limits"]["telegram_per_chat_per_second"] == 1
    merged = sandbox.http.patch("/sandbox/faults", json={"error_rates": {"telegram.sendMessage": None},
                                                         "rate_limits": {"enforce": False}}).get_json()
    assert list(merged["error_rates"]) == ["viber.send_message"]
    assert merged["rate_limits"]["enforce"] is False and merged["rate_limits"]["telegram_per_second"] == 10

    before = time.time()
    outage = put_faults(sandbox, outage={"channel": "telegram", "mode": "5xx", "seconds": 30})["outage"]
    assert outage["channel"] == "telegram" and outage["active"] is True
    assert before + 29 < outage["until"] < time.time() + 31
    assert put_faults(sandbox, outage=outage)["outage"] == outage  # what GET shows can be PUT back

    assert sandbox.http.delete("/sandbox/faults").get_json() == {"latency_by_method": {}, "error_rates": {}}
    assert sandbox.telegram("getMe")[0] == 200


@pytest.mark.parametrize(("faults", "field"), [
    ({"latency": {"fixed_ms": 1, "uniform_ms": [1, 2]}}, "latency"),
    ({"latency": {"uniform_ms": [5, 1]}}, "latency"),
    ({"error_rates": {"sms.send": {"rate": 0.1}}}, "error_rates"),
    ({"error_rates": {"telegram.sendMessage": {"rate": 0.1, "status": 12}}}, "error_rates"),
    ({"error_rates": {"viber.send_message": {"rate": 0.1, "error_code": 502}}}, "error_rates"),
    ({"error_rates": {"telegram.getMe": {"rate": 0.6}, "telegram.getMe#2": {"rate": 0.6}}}, "error_rates"),
    ({"error_rates": {"telegram.sendMessage": {"rate": 1.5}}}, "error_rates.telegram.sendMessage.rate"),
    ({"outage": {"mode": "reset"}}, "outage"),
    ({"outage": {"mode": "down", "seconds": 1}}, "outage.mode"),
    ({"rate_limits": {"telegram_per_second": 0}}, "rate_limits.telegram_per_second"),
    ({"chaos": True}, "chaos"),
])
def test_invalid_faults_are_400_naming_the_field(sandbox: SandboxClient, faults: dict[str, Any],
                                                 field: str) -> None:
    for method in ("PUT", "PATCH"):
        response = sandbox.http.open("/sandbox/faults", method=method, json=faults)
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert (error["code"], error["field"]) == ("invalid_request", field)
    assert sandbox.http.get("/sandbox/faults").get_json() == {"latency_by_method": {}, "error_rates": {}}


def test_reset_restores_the_faults_the_sandbox_started_with() -> None:
    initial = FaultSettings.model_validate({"latency": {"fixed_ms": 1}, "seed": 3})
    sandbox = SandboxClient(create_app(SandboxConfig(faults=initial)).test_client())
    put_faults(sandbox, error_rates={"telegram.getMe": {"rate": 1}})
    assert sandbox.telegram("getMe")[0] == 502
    assert sandbox.http.post("/sandbox/reset").status_code == 200
    assert sandbox.http.get("/sandbox/faults").get_json() == initial.to_json()
    assert stats(sandbox)["requests"] == {}
    assert sandbox.telegram("getMe")[0] == 200


# --- injected errors ----------------------------------------------------------------------------


def test_a_seeded_error_rate_repeats_its_sequence_and_keeps_its_rate(sandbox: SandboxClient) -> None:
    customer, chat = telegram_chat(sandbox)

    def run(seed: int) -> list[int]:
        put_faults(sandbox, seed=seed, error_rates={"telegram.sendMessage": {"rate": 0.2, "error_code": 502}})
        return [send(sandbox, chat)[0] for _ in range(300)]

    first, second, other = run(12345), run(12345), run(54321)
    assert first == second and first != other
    assert set(first) == {200, 502}
    assert 0.12 < first.count(502) / 300 < 0.28
    # An injected failure delivers nothing.
    assert len(sandbox.messages(customer, "telegram")) == sum(s.count(200) for s in (first, second, other))
    figures = stats(sandbox)
    assert figures["injected_errors"] == sum(s.count(502) for s in (first, second, other))
    assert figures["requests"]["telegram.sendMessage"] == 900


@pytest.mark.parametrize(("rule", "status", "answer"), [
    ({"error_code": 502}, 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ({}, 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ({"error_code": 503}, 503, {"ok": False, "error_code": 503, "description": "Service Unavailable"}),
    ({"error_code": 400}, 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
    ({"error_code": 403, "description": "Forbidden: user is deactivated"}, 403,
     {"ok": False, "error_code": 403, "description": "Forbidden: user is deactivated"}),
    ({"error_code": 429, "retry_after": 7}, 429, {"ok": False, "error_code": 429,
     "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
])
def test_injected_telegram_errors_come_in_telegrams_envelope(sandbox: SandboxClient, rule: dict[str, Any],
                                                             status: int, answer: dict[str, Any]) -> None:
    customer, chat = telegram_chat(sandbox)
    put_faults(sandbox, error_rates={"telegram.sendMessage": {"rate": 1, **rule}})
    assert send(sandbox, chat) == (status, answer)
    assert sandbox.messages(customer, "telegram") == []
    [logged] = [r for r in sandbox.requests()["requests"] if r["method"] == "sendMessage"]
    assert (logged["ok"], logged["error_code"]) == (False, status)
    assert sandbox.telegram("getMe")[0] == 200  # other methods are untouched


def test_injected_viber_errors_are_statuses_or_bare_5xx(sandbox: SandboxClient, webhook: WebhookReceiver) -> None:
    customer, user = viber_user(sandbox)
    put_faults(sandbox, error_rates={"viber.send_message": {"rate": 1, "status": 12}})
    answer = viber_send(sandbox, user)
    assert answer.status_code == 200
    assert answer.get_json() | {"chat_hostname": None} == {
        "status": 12, "status_message": "tooManyRequests", "chat_hostname": None}

    put_faults(sandbox, error_rates={"viber.send_message": {"rate": 1, "http_status": 503}})
    answer = viber_send(sandbox, user)
    assert (answer.status_code, answer.mimetype, answer.get_data(as_text=True)) == (
        503, "text/plain", "503 Service Unavailable\n")
    put_faults(sandbox, error_rates={"viber.send_message": {"rate": 1}})
    assert viber_send(sandbox, user).status_code == 502
    assert sandbox.messages(customer, "viber") == []
    assert stats(sandbox)["injected_errors"] == 3
    put_faults(sandbox)
    assert viber_send(sandbox, user).get_json()["status"] == 0


def test_several_rules_for_one_method_share_one_draw(sandbox: SandboxClient) -> None:
    _, chat = telegram_chat(sandbox)
    put_faults(sandbox, seed=1, error_rates={
        "telegram.sendMessage": {"rate": 0.5, "error_code": 502},
        "telegram.sendMessage#blocked": {"rate": 0.5, "error_code": 403,
                                         "description": "Forbidden: bot was blocked by the user"}})
    answers = [send(sandbox, chat) for _ in range(60)]
    assert {status for status, _ in answers} == {502, 403}
    assert {body["description"] for status, body in answers if status == 403} == {
        "Forbidden: bot was blocked by the user"}


# --- outages ------------------------------------------------------------------------------------


def test_an_outage_answers_5xx_until_its_window_ends(sandbox: SandboxClient) -> None:
    put_faults(sandbox, outage={"channel": "telegram", "mode": "5xx", "seconds": 0.4})
    assert sandbox.telegram("getMe") == (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    assert sandbox.viber("get_account_info")["status"] == 0  # the other channel is up
    assert sandbox.http.get("/sandbox/customers").status_code == 200  # and so is the control API
    time.sleep(0.45)
    assert sandbox.telegram("getMe")[0] == 200
    assert sandbox.http.get("/sandbox/faults").get_json()["outage"]["active"] is False

    put_faults(sandbox, outage={"channel": "viber", "until": time.time() + 0.3})
    down = sandbox.http.post("/pa/get_account_info", headers=VIBER_HEADERS, json={})
    assert (down.status_code, down.get_data(as_text=True)) == (502, "502 Bad Gateway\n")
    assert sandbox.telegram("getMe")[0] == 200
    time.sleep(0.35)
    assert sandbox.viber("get_account_info")["status"] == 0
    assert stats(sandbox)["outage_hits"] == 2


def test_a_reset_outage_drops_the_connection_without_an_answer() -> None:
    with served_sandbox() as url, httpx.Client(base_url=url, timeout=5, trust_env=False) as http:
        window = http.put("/sandbox/faults", json={"outage": {"mode": "reset", "seconds": 0.6}}).json()
        # A reset (ECONNRESET: httpx's ReadError), not a clean close without an answer.
        with pytest.raises(httpx.ReadError, match="reset"):
            http.post(f"{TELEGRAM}/getMe")
        with pytest.raises(httpx.ReadError, match="reset"):
            http.post("/pa/get_account_info", json={"auth_token": SANDBOX_VIBER_TOKEN})
        assert http.get("/sandbox/stats").json()["outage_hits"] == 2
        time.sleep(max(0.0, window["outage"]["until"] - time.time()) + 0.05)
        assert http.post(f"{TELEGRAM}/getMe").json()["ok"] is True


def test_a_hang_outage_holds_requests_then_answers_502() -> None:
    with served_sandbox() as url, httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
        http.put("/sandbox/faults", json={"outage": {"channel": "telegram", "mode": "hang", "seconds": 0.8}})
        started = time.monotonic()
        held = http.post(f"{TELEGRAM}/getMe")
        assert 0.6 < time.monotonic() - started < 3
        assert (held.status_code, held.json()["description"]) == (502, "Bad Gateway")
        started = time.monotonic()
        assert http.post(f"{TELEGRAM}/getMe").status_code == 200
        assert time.monotonic() - started < 0.5

        # Lifting the outage lets a hanging request go at once.
        http.put("/sandbox/faults", json={"outage": {"mode": "hang", "seconds": 30}})
        lifter = threading.Timer(0.3, lambda: httpx.delete(f"{url}/sandbox/faults", trust_env=False))
        lifter.start()
        started = time.monotonic()
        assert http.post(f"{TELEGRAM}/getMe").status_code == 502
        assert time.monotonic() - started < 3
        lifter.join()


# --- latency ------------------------------------------------------------------------------------


def test_latency_delays_every_bot_api_call_but_not_the_control_api() -> None:
    with served_sandbox() as url, httpx.Client(base_url=url, timeout=10, trust_env=False) as http:
        http.put("/sandbox/faults", json={
            "latency": {"fixed_ms": 200},
            "latency_by_method": {"viber.get_account_info": {"uniform_ms": [400, 420]}}})

        def timed(method: str, path: str, **kwargs: Any) -> float:
            started = time.monotonic()
            assert http.request(method, path, **kwargs).status_code == 200
            return time.monotonic() - started

        assert 0.2 <= timed("POST", f"{TELEGRAM}/getMe") < 1
        assert 0.4 <= timed("POST", "/pa/get_account_info", json={"auth_token": SANDBOX_VIBER_TOKEN}) < 1
        assert timed("GET", "/sandbox/stats") < 0.15
        logged = http.get("/sandbox/requests").json()["requests"][0]
        waited = datetime.fromisoformat(logged["at"]) - datetime.fromisoformat(logged["received_at"])
        assert logged["method"] == "getMe" and waited.total_seconds() >= 0.199
        # Waits overlap: the latency is a sleep, not a queue.
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as other:
            started = time.monotonic()
            threads = [threading.Thread(target=other.post, args=(f"{TELEGRAM}/getMe",)) for _ in range(10)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert time.monotonic() - started < 1


# --- rate limits --------------------------------------------------------------------------------


def test_a_second_send_to_one_chat_within_a_second_is_429_retry_after_1(sandbox: SandboxClient) -> None:
    first_customer, first = telegram_chat(sandbox)
    _, second = telegram_chat(sandbox, phone="+380671112233")
    put_faults(sandbox, rate_limits={"enforce": True})
    assert send(sandbox, first)[0] == 200
    assert send(sandbox, first) == (429, TOO_MANY_FOR_A_SECOND)
    assert send(sandbox, str(first)) == (429, TOO_MANY_FOR_A_SECOND)  # "42" is the same chat as 42
    assert send(sandbox, second)[0] == 200
    assert len(sandbox.messages(first_customer, "telegram")) == 1
    refused = [r for r in sandbox.requests()["requests"] if r.get("error_code") == 429]
    assert [(r["ok"], r["retry_after"]) for r in refused] == [(False, 1), (False, 1)]
    time.sleep(1.0)
    assert send(sandbox, first)[0] == 200
    figures = stats(sandbox)
    assert figures["over_limit"] == {"telegram_bot": 0, "telegram_chat": 2, "viber_user": 0}
    assert figures["delivered"]["telegram"] == 3 and figures["max_per_chat_in_any_second"] == 1


def test_the_per_bot_rate_answers_the_exact_wait(sandbox: SandboxClient) -> None:
    chats = [telegram_chat(sandbox, phone=f"+38050000000{n}")[1] for n in range(4)]
    put_faults(sandbox, rate_limits={"telegram_per_second": 3, "telegram_per_chat_per_second": 100,
                                     "telegram_chat_burst": 100})
    assert [send(sandbox, chat)[0] for chat in chats[:3]] == [200, 200, 200]  # a burst of one second's worth
    assert send(sandbox, chats[3]) == (429, TOO_MANY_FOR_A_SECOND)

    put_faults(sandbox, rate_limits={"telegram_per_second": 0.25})
    assert send(sandbox, chats[0])[0] == 200
    assert send(sandbox, chats[1]) == (429, {"ok": False, "error_code": 429,
                                             "description": "Too Many Requests: retry after 4",
                                             "parameters": {"retry_after": 4}})
    assert stats(sandbox)["over_limit"]["telegram_bot"] == 2


def test_token_buckets_follow_the_clock() -> None:
    now = [1000.0]
    traffic = Traffic(lambda: now[0])
    traffic.configure(RateLimits())  # 30 a second per bot (burst 30), 1 a second per chat
    assert not traffic.admit("telegram", "a").refused
    now[0] = 1000.5
    refused = traffic.admit("telegram", "a")
    assert (refused.over, refused.retry_after) == ("telegram_chat", 1)
    now[0] = 1001.0
    assert not traffic.admit("telegram", "a").refused
    assert not any(traffic.admit("telegram", f"chat-{n}").refused for n in range(29))
    refused = traffic.admit("telegram", "z")
    assert (refused.over, refused.retry_after) == ("telegram_bot", 1)
    now[0] += 1 / 30
    assert not traffic.admit("telegram", "z").refused
    figures = traffic.stats()
    assert figures["max_per_chat_in_any_second"] == 1
    # A full bucket plus what refills within the second: a token bucket's nature.
    assert figures["max_per_bot_in_any_second"] == 31


def test_viber_caps_messages_per_user_per_hour_until_they_reply(sandbox: SandboxClient,
                                                               webhook: WebhookReceiver) -> None:
    customer, user = viber_user(sandbox)
    _, other = viber_user(sandbox, phone="+380671112233")
    put_faults(sandbox, rate_limits={"viber_per_user_per_hour": 3})
    assert [viber_send(sandbox, user).get_json()["status"] for _ in range(3)] == [0, 0, 0]
    capped = viber_send(sandbox, user)
    assert capped.status_code == 200
    assert (capped.get_json()["status"], capped.get_json()["status_message"]) == (12, "tooManyRequests")
    assert viber_send(sandbox, other).get_json()["status"] == 0
    assert len(sandbox.messages(customer, "viber")) == 3
    sandbox.act(customer, "viber/text", text="Where is my parcel?")
    assert viber_send(sandbox, user).get_json()["status"] == 0
    assert stats(sandbox)["over_limit"]["viber_user"] == 1


def test_concurrent_senders_never_exceed_the_per_chat_limit() -> None:
    app = create_app()
    sandbox = SandboxClient(app.test_client())
    chats = [telegram_chat(sandbox, phone=f"+38050000000{n}")[1] for n in range(3)]
    put_faults(sandbox, rate_limits={"enforce": True})
    statuses: list[int] = []
    deadline = time.monotonic() + 1.3

    def hammer(chat: int) -> None:
        client = SandboxClient(app.test_client())
        while time.monotonic() < deadline:
            statuses.append(send(client, chat)[0])

    threads = [threading.Thread(target=hammer, args=(chats[n % 3],)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = stats(sandbox)
    assert set(statuses) == {200, 429}
    assert figures["max_per_chat_in_any_second"] == 1
    assert figures["delivered"]["telegram"] == statuses.count(200) <= 6
    assert figures["over_limit"]["telegram_chat"] == statuses.count(429)


# --- stats --------------------------------------------------------------------------------------


def test_stats_count_requests_deliveries_and_the_busiest_second(sandbox: SandboxClient) -> None:
    _, first = telegram_chat(sandbox)
    _, second = telegram_chat(sandbox, phone="+380671112233")
    empty = stats(sandbox)
    assert empty["delivered"] == {"telegram": 0, "viber": 0} and empty["first_send_at"] is None
    before = time.time()
    for chat in (first, first, second, first, second):
        assert send(sandbox, chat)[0] == 200
    sandbox.telegram("getMe")
    figures = stats(sandbox)
    assert figures["requests"] == {"telegram.getMe": 1, "telegram.sendMessage": 5}
    assert figures["delivered"] == {"telegram": 5, "viber": 0}
    assert figures["max_per_chat_in_any_second"] == 3 and figures["max_per_bot_in_any_second"] == 5
    assert before <= figures["first_send_at"] <= figures["last_send_at"] <= time.time()
    assert figures["over_limit"] == {"telegram_bot": 0, "telegram_chat": 0, "viber_user": 0}
    assert (figures["injected_errors"], figures["outage_hits"]) == (0, 0)

    reset = sandbox.http.post("/sandbox/stats/reset").get_json()
    assert reset == empty
    assert send(sandbox, first)[0] == 200
    assert stats(sandbox)["max_per_chat_in_any_second"] == 1


# --- the command line ---------------------------------------------------------------------------


def _parsed(*args: str) -> FaultSettings | None:
    params = sandbox_command.make_context("sandbox", list(args)).params
    return initial_faults(params["latency_ms"], params["latency_jitter_ms"], params["enforce_rate_limits"],
                          params["telegram_rate"], params["telegram_chat_rate"], params["error_rates"],
                          params["seed"])


def test_cli_flags_become_the_initial_faults() -> None:
    assert _parsed() is None
    faults = _parsed("--latency-ms", "100", "--latency-jitter-ms", "20", "--enforce-rate-limits",
                     "--telegram-rate", "50", "--telegram-chat-rate", "2",
                     "--error-rate", "telegram.sendMessage=0.2:502", "--error-rate", "telegram.sendMessage=0.1:403",
                     "--error-rate", "viber.send_message=0.1:12", "--error-rate", "viber.get_account_info=0.5:503",
                     "--seed", "12345")
    assert faults is not None
    assert faults.to_json() == {
        "latency": {"uniform_ms": [80.0, 120.0]},
        "latency_by_method": {},
        "error_rates": {
            "telegram.sendMessage": {"rate": 0.2, "error_code": 502},
            "telegram.sendMessage#2": {"rate": 0.1, "error_code": 403},
            "viber.send_message": {"rate": 0.1, "status": 12},
            "viber.get_account_info": {"rate": 0.5, "http_status": 503}},
        "rate_limits": {"enforce": True, "telegram_per_second": 50.0, "telegram_per_chat_per_second": 2.0,
                        "telegram_chat_burst": 1.0, "telegram_paid_per_second": 1000.0,
                        "telegram_stars_balance": 100000.0, "viber_per_user_per_hour": 100},
        "seed": 12345,
    }
    fixed = _parsed("--latency-ms", "100", "--telegram-rate", "10")
    assert fixed is not None and fixed.latency is not None and fixed.latency.fixed_ms == 100
    assert fixed.rate_limits is not None and fixed.rate_limits.enforce is False


@pytest.mark.parametrize("value", ["telegram.sendMessage", "=0.2", "telegram.sendMessage=lots:502",
                                   "telegram.sendMessage=0.2:bad"])
def test_malformed_error_rate_flags_are_refused(value: str) -> None:
    with pytest.raises(click.BadParameter):
        error_rule(value)
    with pytest.raises(click.BadParameter):
        _parsed("--error-rate", "sms.send=0.2:502")


def test_the_sandbox_command_starts_with_the_faults_its_flags_ask_for() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "omnibot_sandbox.cli", "--port", str(port), "--latency-ms", "50",
         "--error-rate", "telegram.getMe=1:503", "--seed", "9"],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None and "listening on" in process.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, trust_env=False) as http:
            assert http.get("/sandbox/faults").json()["latency"] == {"fixed_ms": 50}
            assert http.post(f"{TELEGRAM}/getMe").status_code == 503
    finally:
        process.terminate()
        process.wait(timeout=10)
