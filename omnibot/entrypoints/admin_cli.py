"""``omnibot admin``: the operators' dashboard from the shell; and its sign-in for ``omnibot dev``."""

from __future__ import annotations

import secrets
import sys
from collections.abc import MutableMapping

import click

from omnibot.settings import ConfigurationError, Settings

MIN_PASSWORD = 10


@click.group("admin")
def admin_command() -> None:
    """The operators' dashboard at /admin."""


@admin_command.command("hash-password")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def hash_password(password_stdin: bool) -> None:
    """Print a hash of an operator password, for ADMIN_PASSWORD_HASH.

    The hash is scrypt with a random salt (werkzeug's format); the password itself is stored nowhere.
    """
    from omnibot.entrypoints.http.admin.auth import hash_password as make_hash

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Operator password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"use at least {MIN_PASSWORD} characters")
    click.echo(make_hash(password))
    click.echo("Put it in .env in single quotes, it holds '$': ADMIN_PASSWORD_HASH='<the line above>'", err=True)


def dev_sign_in(env: MutableMapping[str, str]) -> str | None:
    """For ``omnibot dev``: a new random password when none is configured, its hash (and a session key) in ``env``.

    Returns the password to print, or None when the configuration has its own.
    """
    from omnibot.entrypoints.http.admin.auth import hash_password as make_hash

    try:
        configured = Settings.from_env()  # the environment and .env, as the API will read them
    except ConfigurationError:
        configured = None  # `omnibot serve` will say what is wrong
    if env.get("ADMIN_PASSWORD_HASH") or (configured and configured.admin_password_hash):
        return None
    password = secrets.token_urlsafe(12)
    env["ADMIN_PASSWORD_HASH"] = make_hash(password)
    if not env.get("SECRET_KEY") and not (configured and configured.secret_key):
        env["SECRET_KEY"] = secrets.token_hex(32)  # the password is new every run anyway
    return password


def dev_banner(port: int, sandbox_port: int | None, password: str | None) -> str:
    """The lines `omnibot dev` prints about the pages to open in a browser."""
    sign_in = f"password: {password}, new every run" if password else "the password of ADMIN_PASSWORD_HASH"
    lines = [f"  Dashboard: http://127.0.0.1:{port}/admin   ({sign_in})"]
    if sandbox_port is not None:
        lines.insert(0, f"  Phones:    http://127.0.0.1:{sandbox_port}/phones   (the sandbox's customers in a browser)")
    return "\n".join(lines)
