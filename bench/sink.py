"""A messenger sink faster than any sender it measures: Telegram's ``sendMessage`` answered after a
fixed latency, thousands of times a second, on one event loop.

The sandbox is the faithful messenger (limits, faults, customers) and tops out near 1,000
requests a second here; measuring a sender meant to go past that needs a peer that is not the
bottleneck. This one parses just enough HTTP/1.1 (keep-alive, Content-Length) to answer every
POST with Telegram's success body after ``--latency-ms``, and counts what it answered.

    python -m bench.sink --port 5301 --latency-ms 100
    GET /sink/stats -> {"answered": N, "most_in_flight": M}
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json

_message_ids = itertools.count(1)


class SinkProtocol(asyncio.Protocol):
    answered = 0
    in_flight = 0
    most_in_flight = 0  # the most sends held at once: proof of a sender's concurrency

    def __init__(self, latency: float) -> None:
        self._latency = latency
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            head = self._buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return  # the body is still on its way
            self._buffer = self._buffer[end + 4 + length:]
            if head.startswith("GET /sink/stats"):
                self._answer(json.dumps({"answered": SinkProtocol.answered,
                                         "most_in_flight": SinkProtocol.most_in_flight}).encode())
            else:
                SinkProtocol.in_flight += 1
                SinkProtocol.most_in_flight = max(SinkProtocol.most_in_flight, SinkProtocol.in_flight)
                asyncio.get_running_loop().call_later(self._latency, self._answer_send)

    def _answer_send(self) -> None:
        SinkProtocol.in_flight -= 1
        SinkProtocol.answered += 1
        body = b'{"ok":true,"result":{"message_id":%d,"date":0,"chat":{"id":1,"type":"private"}}}' % next(
            _message_ids)
        self._answer(body)

    def _answer(self, body: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                  % (len(body), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(host: str, port: int, latency: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SinkProtocol(latency), host, port, backlog=4096)
    print(f"sink.listening port={port} latency_ms={latency * 1000:.0f}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
