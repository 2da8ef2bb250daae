"""The dashboard's sign-in under attack and sign-out, through Flask's test client on real databases.

- A password guesser slows down only its own address: operators elsewhere sign in at once.
- Signing out ends every session issued before it, in every process on the database (a copied
  cookie too): the state is a row of ``operator_sign_outs``, not process memory.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from omnibot.adapters.db.operator_sign_outs import SqlOperatorSignOuts
from omnibot.ports import OperatorSignOuts
from omnibot.services.sign_in_throttle import SignInThrottle
from tests.conftest import SQL_BACKENDS, PostgresServer
from tests.fakes import InMemoryOperatorSignOuts, ManualClock
from tests.integration.apps import apps, sqlite_apps

PASSWORD = "a long operator password"
ATTACKER, OPERATOR = "203.0.113.7", "198.51.100.2"
DashboardFactory = Callable[..., Flask]


class Ticks:
    """A monotonic clock for the throttle that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def dashboards(database_url: str) -> Iterator[DashboardFactory]:
    """Apps on one migrated database, as the processes of one `omnibot serve`; ``throttle`` replaces
    the default sign-in throttle of an app."""
    password_hash = generate_password_hash(PASSWORD)  # one for all: a new salt would be a new password
    with apps(database_url, internal_api_key="admin-auth-key", admin_password_hash=password_hash,
              secret_key="test-secret") as make_app:

        def make(throttle: SignInThrottle | None = None) -> Flask:
            return make_app(services=None if throttle is None else {"sign_in_throttle": throttle})

        yield make


@pytest.fixture(params=SQL_BACKENDS)
def make_dashboard(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[DashboardFactory]:
    monkeypatch.chdir(tmp_path)
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    else:
        url = f"sqlite:///{tmp_path / 'admin.sqlite3'}"
    with dashboards(url) as make:
        yield make


def client_at(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def try_password(client: FlaskClient, password: str) -> tuple[int, str | None]:
    page = client.get("/admin/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    answer = client.post("/admin/login", data={"password": password, "csrf_token": found.group(1)})
    return answer.status_code, answer.headers.get("Retry-After")


def signed_in(client: FlaskClient) -> FlaskClient:
    assert try_password(client, PASSWORD)[0] == 302
    assert client.get("/admin/queue").status_code == 200
    return client


def test_a_guesser_waits_longer_and_longer_while_an_operator_elsewhere_signs_in_every_time(
        make_dashboard: DashboardFactory) -> None:
    ticks = Ticks()
    app = make_dashboard(SignInThrottle(tries_before_waiting=3, first_wait=10.0, max_wait=40.0, now=ticks))
    attacker = client_at(app, ATTACKER)

    def operator_signs_in() -> None:
        signed_in(client_at(app, OPERATOR))

    answers = []
    for _ in range(5):
        answers.append(try_password(attacker, "guess"))
        operator_signs_in()
    assert answers == [(401, None), (401, None), (401, "10"), (429, "10"), (429, "10")]
    # During the wait not even the right password is checked: it is no way around the wait.
    assert try_password(attacker, PASSWORD) == (429, "10")
    ticks.now += 10.0
    assert try_password(attacker, "guess") == (401, "20")
    operator_signs_in()
    ticks.now += 19.5
    assert try_password(attacker, "guess") == (429, "1")
    ticks.now += 0.5
    assert try_password(attacker, "guess") == (401, "40")
    ticks.now += 40.0
    assert try_password(attacker, "guess") == (401, "40")  # the cap
    ticks.now += 40.0
    assert try_password(attacker, PASSWORD) == (302, None)  # the right password clears the record
    assert try_password(client_at(app, ATTACKER), "typo") == (401, None)


def test_a_guesser_hammering_from_one_address_never_refuses_an_operator_elsewhere(tmp_path: Path) -> None:
    # The real throttle and clock, and requests that overlap in time, as on a served dashboard.
    with sqlite_apps(tmp_path / "admin.sqlite3", internal_api_key="admin-auth-key", secret_key="test-secret",
                     admin_password_hash=generate_password_hash(PASSWORD)) as make:
        app = make()
        stop = threading.Event()
        guesses: list[tuple[int, str | None]] = []

        def guess() -> None:
            attacker = client_at(app, ATTACKER)
            while not stop.is_set() and len(guesses) < 400:
                guesses.append(try_password(attacker, "guess"))
                time.sleep(0.005)

        guesser = threading.Thread(target=guess)
        guesser.start()
        operators: list[int] = []
        deadline = time.monotonic() + 30
        try:  # at least 8 sign-ins, and on until the guesser has been held back (slow machines)
            while len(operators) < 8 or (not any(s == 429 for s, _ in guesses) and time.monotonic() < deadline):
                operators.append(try_password(client_at(app, OPERATOR), PASSWORD)[0])
        finally:
            stop.set()
            guesser.join()
    assert set(operators) == {302}
    assert {status for status, _ in guesses} <= {401, 429}
    assert any(status == 429 for status, _ in guesses), "the guesser was never held back: the test proves nothing"
    assert all(retry_after and int(retry_after) >= 1 for status, retry_after in guesses if status == 429)


def test_signing_out_ends_every_earlier_session_in_every_process_even_a_copied_cookie(
        make_dashboard: DashboardFactory) -> None:
    first_process, second_process = make_dashboard(), make_dashboard()
    operator = signed_in(first_process.test_client())
    colleague = signed_in(second_process.test_client())
    cookie = operator.get_cookie("omnibot_admin", path="/admin")
    assert cookie is not None
    copied = second_process.test_client()
    copied.set_cookie("omnibot_admin", cookie.value, path="/admin")
    assert copied.get("/admin/queue").status_code == 200

    page = operator.get("/admin/queue").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token and operator.post("/admin/logout", data={"csrf_token": token.group(1)}).status_code == 302

    for client in (copied, colleague, operator):
        answer = client.get("/admin/queue")
        assert answer.status_code == 302 and "/admin/login?next=" in answer.headers["Location"]
    assert copied.get("/admin/queue/live", headers={"X-Requested-With": "fetch"}).status_code == 401
    signed_in(second_process.test_client())  # a session issued after the sign-out holds
    signed_in(first_process.test_client())


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def sign_outs(request: pytest.FixtureRequest) -> OperatorSignOuts:
    clock = ManualClock()
    if request.param == "memory":
        return InMemoryOperatorSignOuts(clock.now)
    engine = request.getfixturevalue("migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine")
    return SqlOperatorSignOuts(engine, clock.now)


def test_each_sign_out_moves_the_operators_generation_on(sign_outs: OperatorSignOuts) -> None:
    assert sign_outs.generation("operator") == 0
    assert sign_outs.sign_out("operator") == 1
    assert sign_outs.sign_out("operator") == 2
    assert sign_outs.generation("operator") == 2
    assert sign_outs.generation("someone else") == 0
