"""The most a Python sender reaches here: one event loop posting ``sendMessage`` with hundreds of
requests in flight, no database, no queue. Run against ``bench.sink`` with each async client the
delivery worker could use, to choose one by measurement (docs/decisions.md).

    python -m bench.bare_sender --url http://127.0.0.1:5301/bot1:x --client httpx --count 6000 --in-flight 512
    -> {"client": "httpx", "sent": 6000, "seconds": ..., "per_second": ..., "cpu_ms_per_message": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

Send = Callable[[int], Awaitable[None]]


async def _run(send: Send, count: int, in_flight: int) -> None:
    next_chat = iter(range(count))

    async def lane() -> None:
        for chat in next_chat:
            await send(chat)

    await asyncio.gather(*(lane() for _ in range(in_flight)))


async def with_httpx(url: str, count: int, in_flight: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def send(chat: int) -> None:
            answer = await client.post(f"{url}/sendMessage", json={"chat_id": chat, "text": "Order ready"})
            answer.raise_for_status()
            answer.json()

        await _run(send, count, in_flight)


async def with_aiohttp(url: str, count: int, in_flight: int) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        async def send(chat: int) -> None:
            async with session.post(f"{url}/sendMessage", json={"chat_id": chat, "text": "Order ready"}) as answer:
                answer.raise_for_status()
                await answer.json()

        await _run(send, count, in_flight)


CLIENTS = {"httpx": with_httpx, "aiohttp": with_aiohttp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Base URL with the token: http://host:port/bot<token>")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="aiohttp")
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--in-flight", type=int, default=512)
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(CLIENTS[args.client](args.url, args.count, args.in_flight))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"client": args.client, "sent": args.count, "in_flight": args.in_flight,
                      "seconds": round(seconds, 3), "per_second": round(args.count / seconds),
                      "cpu_ms_per_message": round(cpu_seconds * 1000 / args.count, 3)}))


if __name__ == "__main__":
    main()
