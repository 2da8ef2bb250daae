"""The worker's asynchronous sends on the wire: what a messenger's odd answers and an absent host become.

A small aiohttp server on loopback stands in for the messenger; the sandbox's faithful answers are
covered end to end (tests/e2e/test_delivery_engine.py).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from omnibot.adapters.async_http import AsyncHttp
from omnibot.adapters.telegram import TelegramGateway
from omnibot.adapters.viber import ViberGateway
from omnibot.domain.errors import PermanentFailure, TransientFailure
from omnibot.ports import OutgoingMessage

TOKEN = "123456:secret-token-never-in-errors"
Handler = Callable[[web.Request], web.Response]


@asynccontextmanager
async def messenger(handler: Handler) -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []

    async def record(request: web.Request) -> web.Response:
        received.append({"path": request.path, "json": await request.json(), "headers": dict(request.headers)})
        return handler(request)

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


def answer(status: int, body: object) -> Handler:
    return lambda _request: web.Response(status=status, body=json.dumps(body).encode(),
                                         content_type="application/json")


async def telegram_send(handler: Handler) -> tuple[object, list[dict[str, object]]]:
    async with messenger(handler) as (url, received):
        client = AsyncHttp(timeout_seconds=2)
        try:
            gateway = TelegramGateway(TOKEN, url, client=None, async_client=client)  # type: ignore[arg-type]
            try:
                return await gateway.send_async("42", OutgoingMessage("Ready", html="<b>Ready</b>")), received
            except (PermanentFailure, TransientFailure) as failure:
                return failure, received
        finally:
            await client.close()


def test_a_telegram_send_posts_send_message_and_reads_its_id() -> None:
    receipt, received = asyncio.run(telegram_send(answer(200, {"ok": True, "result": {"message_id": 7}})))
    assert getattr(receipt, "provider_message_id", None) == "7"
    [call] = received
    assert call["path"] == f"/bot{TOKEN}/sendMessage"
    assert call["json"] == {"chat_id": 42, "text": "<b>Ready</b>", "parse_mode": "HTML",
                            "link_preview_options": {"is_disabled": True}}


def test_telegram_answers_become_the_same_failures_as_on_the_synchronous_path() -> None:
    blocked, _ = asyncio.run(telegram_send(answer(403, {"ok": False, "error_code": 403,
                                                        "description": "Forbidden: bot was blocked by the user"})))
    assert isinstance(blocked, PermanentFailure) and blocked.recipient_state == "blocked"
    flood, _ = asyncio.run(telegram_send(answer(429, {"ok": False, "error_code": 429, "description": "Too Many",
                                                      "parameters": {"retry_after": 3}})))
    assert isinstance(flood, TransientFailure) and flood.throttled and flood.retry_after == 3
    proxy_page, _ = asyncio.run(telegram_send(lambda _r: web.Response(status=502, text="<html>Bad gateway")))
    assert isinstance(proxy_page, TransientFailure) and proxy_page.reason == "telegram: HTTP 502 from the API"
    not_an_envelope, _ = asyncio.run(telegram_send(answer(200, ["ok"])))
    assert isinstance(not_an_envelope, TransientFailure)


def test_an_absent_messenger_is_a_transient_failure_that_never_names_the_token() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def send() -> Exception:
        client = AsyncHttp(timeout_seconds=2)
        gateway = TelegramGateway(TOKEN, f"http://127.0.0.1:{port}", client=None,  # type: ignore[arg-type]
                                  async_client=client)
        try:
            await gateway.send_async("42", OutgoingMessage("Ready"))
        except TransientFailure as failure:
            return failure
        finally:
            await client.close()
        raise AssertionError("the send did not fail")

    failure = asyncio.run(send())
    assert str(failure).startswith("telegram: connection failed")
    assert TOKEN not in str(failure) and "secret" not in repr(failure)


async def viber_send(handler: Handler) -> tuple[object, list[dict[str, object]]]:
    async with messenger(handler) as (url, received):
        client = AsyncHttp(timeout_seconds=2)
        try:
            gateway = ViberGateway(TOKEN, url, "Shop", client=None, async_client=client)  # type: ignore[arg-type]
            try:
                return await gateway.send_async("v=", OutgoingMessage("Ready")), received
            except (PermanentFailure, TransientFailure) as failure:
                return failure, received
        finally:
            await client.close()


def test_a_viber_send_carries_the_token_header_and_reads_the_message_token() -> None:
    receipt, received = asyncio.run(viber_send(answer(200, {"status": 0, "message_token": 5})))
    assert getattr(receipt, "provider_message_id", None) == "5"
    [call] = received
    assert call["path"] == "/send_message"
    assert dict(call["headers"])["X-Viber-Auth-Token"] == TOKEN  # type: ignore[arg-type]
    assert call["json"] == {"min_api_version": 1, "sender": {"name": "Shop"}, "type": "text", "text": "Ready",
                            "receiver": "v="}


def test_viber_refusals_become_the_same_failures_as_on_the_synchronous_path() -> None:
    not_subscribed, _ = asyncio.run(viber_send(answer(200, {"status": 6, "status_message": "receiverNotSubscribed"})))
    assert isinstance(not_subscribed, PermanentFailure) and not_subscribed.recipient_state == "blocked"
    throttled, _ = asyncio.run(viber_send(answer(200, {"status": 12, "status_message": "tooManyRequests"})))
    assert isinstance(throttled, TransientFailure) and throttled.throttled
    outage, _ = asyncio.run(viber_send(answer(503, {"status": 0})))
    assert isinstance(outage, TransientFailure) and outage.reason == "viber: HTTP 503 from the API"
