"""``omnibot dev``: everything on one machine, for a first try: sandbox, SQLite, API, a demo customer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import click
import httpx

import omnibot_sandbox as sandbox
from omnibot.entrypoints.admin_cli import dev_banner, dev_sign_in

DEMO_PHONE = "+380501234567"
DEMO_ORDER = "ORD-1234"


def sandbox_environment(sandbox_port: int) -> dict[str, str]:
    """The settings that point omnibot at a local sandbox instead of the real messengers."""
    local = f"http://127.0.0.1:{sandbox_port}"
    return {
        "TELEGRAM_BOT_TOKEN": sandbox.SANDBOX_TELEGRAM_TOKEN,
        "VIBER_AUTH_TOKEN": sandbox.SANDBOX_VIBER_TOKEN,
        "TELEGRAM_API_URL": local,
        "VIBER_API_URL": f"{local}/pa",
        "TELEGRAM_BOT_USERNAME": sandbox.SANDBOX_TELEGRAM_BOT_USERNAME,
        "VIBER_BOT_URI": sandbox.SANDBOX_VIBER_BOT_URI,
        "TELEGRAM_WEBHOOK_SECRET": "sandbox-webhook-secret",
    }


@click.command("dev")
@click.option("--port", type=int, default=5000, show_default=True, help="Port of the omnibot API.")
@click.option("--sandbox-port", type=int, default=5001, show_default=True, help="Port of the sandbox.")
def dev_command(port: int, sandbox_port: int) -> None:
    """Run omnibot locally: migrate SQLite, start the sandbox and the API, print a demo.

    With no TELEGRAM_BOT_TOKEN or VIBER_AUTH_TOKEN set, omnibot talks to the sandbox on
    SANDBOX_PORT with sandbox tokens; with real tokens it talks to the real messengers.
    """
    env = dict(os.environ)
    use_sandbox = not env.get("TELEGRAM_BOT_TOKEN") and not env.get("VIBER_AUTH_TOKEN")
    if use_sandbox:
        env.update(sandbox_environment(sandbox_port))
    env.setdefault("INTERNAL_API_KEY", "dev-internal-key")
    admin_password = dev_sign_in(env)  # a random dashboard password unless one is configured
    children: list[subprocess.Popen[bytes]] = []
    try:
        _omnibot(["db", "upgrade"], env, wait=True)
        if use_sandbox:
            children.append(_omnibot(["sandbox", "--port", str(sandbox_port)], env))
            _wait_for(f"http://127.0.0.1:{sandbox_port}/sandbox/customers")
        children.append(_omnibot(["serve", "--host", "127.0.0.1", "--port", str(port)], env))
        _wait_for(f"http://127.0.0.1:{port}/healthz")
        if use_sandbox:
            _omnibot(["set-webhooks", "--url", f"http://127.0.0.1:{port}"], env, wait=True)
            _print_demo(port, sandbox_port, env["INTERNAL_API_KEY"], admin_password)
        else:
            click.echo(f"omnibot is running.\n{dev_banner(port, None, admin_password)}")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        raise click.ClickException("a child process stopped; see its output above")
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


def _omnibot(args: list[str], env: dict[str, str], wait: bool = False) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-m", "omnibot", *args], env=env)
    if wait and process.wait() != 0:
        raise click.ClickException(f"`omnibot {' '.join(args)}` failed")
    return process


def _wait_for(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise click.ClickException(f"{url} did not answer within {seconds:.0f} s")


def _print_demo(port: int, sandbox_port: int, api_key: str, admin_password: str | None) -> None:
    control = f"http://127.0.0.1:{sandbox_port}/sandbox"
    customer: dict[str, Any] = httpx.post(f"{control}/customers", json={
        "name": "Olena Kovalenko", "phone": DEMO_PHONE, "language": "uk"}, timeout=5).json()
    cid = customer["id"]
    telegram_link = f"https://t.me/{sandbox.SANDBOX_TELEGRAM_BOT_USERNAME}?start={DEMO_ORDER}"
    viber_link = f"viber://pa?chatURI={sandbox.SANDBOX_VIBER_BOT_URI}&context={DEMO_ORDER}"
    click.echo(f"""
omnibot is running (SQLite + sandbox).
  API:       http://127.0.0.1:{port}   (X-Internal-API-Key: {api_key})
  Sandbox:   {control}   (virtual Telegram + Viber)
  API docs:  http://127.0.0.1:{port}/docs   (OpenAPI 3.1: /openapi.json)
  Metrics:   http://127.0.0.1:{port}/metrics   (Prometheus; health: /healthz, /readyz)
{dev_banner(port, sandbox_port, admin_password)}

Demo customer {customer['name']} ({DEMO_PHONE}) is sandbox customer "{cid}".
Deep links for order {DEMO_ORDER}:
  Telegram: {telegram_link}
  Viber:    {viber_link}

1. Click the Telegram link as the customer:
   curl -s -X POST {control}/customers/{cid}/open-link -H 'Content-Type: application/json' \\
        -d '{{"url": "{telegram_link}"}}'
2. Share the phone number when the bot asks:
   curl -s -X POST {control}/customers/{cid}/telegram/share-contact -H 'Content-Type: application/json' -d '{{}}'
3. The shop says the order is ready:
   curl -s -X POST http://127.0.0.1:{port}/trigger-notification \\
        -H 'X-Internal-API-Key: {api_key}' -H 'Content-Type: application/json' \\
        -d '{{"phone": "{DEMO_PHONE}", "order_id": "{DEMO_ORDER}", "items": ["Laptop", "Mouse"]}}'
4. See what the customer received:
   curl -s '{control}/customers/{cid}/messages?channel=telegram'

Press Ctrl-C to stop.
""")
