"""Apprise sending the same messages to the same sandbox, as fast as a thread pool lets it.

Apprise's Telegram plugin has no option for another API host: the ``tgram://`` URL carries only
the token and chats, and the host is the class attribute ``NotifyTelegram.notify_url =
"https://api.telegram.org/bot"`` (apprise/plugins/telegram.py). This script sets that attribute
to the sandbox's address before sending (a monkeypatch, the one change), then sends one
notification per chat from ``--threads`` threads, which is how an application would fan out with
Apprise: it has no queue, no retry store and no rate limiter of its own beyond a per-plugin
throttle. Prints one JSON line: messages sent, failed, seconds, per second.

    python -m bench.apprise_fanout --api URL --token T --chats 100000001,... --count 3000 --threads 128
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True, help="The sandbox's base URL, e.g. http://127.0.0.1:5001")
    parser.add_argument("--token", required=True)
    parser.add_argument("--chats", required=True, help="Comma-separated Telegram chat ids.")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()

    from apprise import __version__
    from apprise.plugins.telegram import NotifyTelegram

    logging.getLogger("apprise").setLevel(logging.ERROR)
    NotifyTelegram.notify_url = f"{args.api.rstrip('/')}/bot"  # no supported way to point it elsewhere
    NotifyTelegram.request_rate_per_sec = 0  # its default throttle is 1 ms; take it off, as we do ours
    chats = args.chats.split(",")

    def send(number: int) -> bool:
        plugin = NotifyTelegram(bot_token=args.token, targets=[chats[number % len(chats)]], detect_owner=False)
        return bool(plugin.send(body=f"Order ORD-apprise-{number} is ready: Laptop, Mouse", title=""))

    started = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        outcomes = list(pool.map(send, range(args.count)))
    seconds = time.monotonic() - started
    sent = sum(outcomes)
    print(json.dumps({"apprise": __version__, "sent": sent, "failed": len(outcomes) - sent,
                      "seconds": round(seconds, 2), "per_second": round(sent / seconds, 1)}))


if __name__ == "__main__":
    main()
