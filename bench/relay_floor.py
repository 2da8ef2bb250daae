"""The latency floor of a PostgreSQL queue: LISTEN, and on each NOTIFY one sendMessage, nothing else.

The benchmark commits ``INSERT … ; NOTIFY bench_relay, '<chat> <order>'`` and times from the
commit to the sandbox storing the message: the least any LISTEN/NOTIFY design can take here.

    python -m bench.relay_floor --database-url postgresql://... --telegram-api URL/bot<token>
"""

from __future__ import annotations

import argparse

import httpx
import psycopg

CHANNEL = "bench_relay"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--telegram-api", required=True, help="Base URL with the token: http://host:port/bot<token>")
    args = parser.parse_args()
    with psycopg.connect(args.database_url, autocommit=True) as connection, httpx.Client(timeout=10) as client:
        connection.execute(f"LISTEN {CHANNEL}")
        print("relay.listening", flush=True)
        for notify in connection.notifies():
            chat, _, order = notify.payload.partition(" ")
            client.post(f"{args.telegram_api}/sendMessage",
                        json={"chat_id": int(chat), "text": f"Order {order} is ready"})


if __name__ == "__main__":
    main()
