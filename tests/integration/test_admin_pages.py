"""The operators' dashboard through Flask's test client, on a real SQLite database: sign-in, cookies, CSRF, pages."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask.testing import FlaskClient
from werkzeug.security import check_password_hash, generate_password_hash

from omnibot.adapters.db.engine import make_engine
from omnibot.adapters.db.viber_ledger import SqlViberLedger
from omnibot.domain.billing import billing_month
from omnibot.domain.model import (
    AttemptOutcome,
    Billing,
    Channel,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    Price,
)
from omnibot.settings import ConfigurationError, Settings
from tests.integration.apps import AppFactory, sqlite_apps
from tests.integration.billing import STARS, ViberSend, start_of_month_minus_a_second, store_sends, store_viber_sends
from tests.sql_notifications import SqlNotificationRepository

KEY = "admin-pages-key"
PASSWORD = "a long operator password"


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppFactory]:
    monkeypatch.chdir(tmp_path)
    with sqlite_apps(tmp_path / "admin.sqlite3", internal_api_key=KEY, telegram_bot_username="shop_bot",
                     viber_auth_token="viber-unused", viber_api_url="http://127.0.0.1:9/pa", viber_bot_uri="shopbot",
                     admin_password_hash=generate_password_hash(PASSWORD), secret_key="test-secret") as make:
        yield make


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    return make_app().test_client()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: FlaskClient, password: str = PASSWORD) -> FlaskClient:
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login", data={"password": password, "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def test_every_page_sends_a_stranger_to_the_sign_in(client: FlaskClient) -> None:
    for path in ("/admin/", "/admin/notifications", "/admin/notifications/live", "/admin/notifications/charts",
                 "/admin/contacts", "/admin/contacts/1", "/admin/queue", "/admin/notifications/some-id"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/admin/login?next=" in answer.headers["Location"], path
    assert client.get("/admin/queue/live", headers={"X-Requested-With": "fetch"}).status_code == 401
    assert client.post("/admin/links", data={"phone": "+380501234567"}).status_code == 302


def test_a_wrong_password_is_refused_and_opens_nothing(client: FlaskClient) -> None:
    # Throttling guessers (per address, waits that grow): tests/integration/test_admin_auth.py.
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login", data={"password": "guess", "csrf_token": token})
    assert answer.status_code == 401 and "Wrong password." in answer.get_data(as_text=True)
    assert client.get("/admin/queue").status_code == 302


def test_the_session_cookie_is_httponly_samesite_and_only_for_the_dashboard(client: FlaskClient) -> None:
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http here
    assert client.get("/admin/queue").status_code == 200
    assert "Set-Cookie" not in client.get("/healthz").headers


def test_the_cookie_is_secure_over_https_or_when_configured(make_app: AppFactory) -> None:
    over_https = make_app().test_client()
    answer = over_https.get("/admin/login", base_url="https://omnibot.example")
    assert "Secure" in answer.headers["Set-Cookie"]
    forced = make_app(admin_cookie_secure=True).test_client()
    assert "Secure" in forced.get("/admin/login").headers["Set-Cookie"]


def test_posts_without_the_csrf_token_are_refused(client: FlaskClient) -> None:
    assert client.post("/admin/login", data={"password": PASSWORD}).status_code == 400
    sign_in(client)
    refused = client.post("/admin/links", data={"phone": "+380501234567", "csrf_token": "forged"})
    assert refused.status_code == 400 and "expired" in refused.get_data(as_text=True)


def test_pages_forbid_framing_and_foreign_scripts(client: FlaskClient) -> None:
    answer = client.get("/admin/login")
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "<script>" not in answer.get_data(as_text=True)  # only the script file: no inline code


def test_after_sign_in_the_page_asked_for_opens_but_never_another_site(client: FlaskClient) -> None:
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login?next=/admin/queue", data={"password": PASSWORD, "csrf_token": token})
    assert answer.headers["Location"] == "/admin/queue"
    client.post("/admin/logout", data={"csrf_token": csrf(client.get("/admin/queue").get_data(as_text=True))})
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login?next=//evil.example/admin/", data={"password": PASSWORD, "csrf_token": token})
    assert answer.headers["Location"] == "/admin/"


def test_changing_the_password_signs_everyone_out(make_app: AppFactory) -> None:
    client = sign_in(make_app().test_client())
    cookie = client.get_cookie("omnibot_admin", path="/admin")
    assert cookie is not None
    other = make_app(admin_password_hash=generate_password_hash("another long password")).test_client()
    other.set_cookie("omnibot_admin", cookie.value, path="/admin")
    assert other.get("/admin/queue").status_code == 302


def test_without_a_password_hash_nobody_signs_in(make_app: AppFactory) -> None:
    client = make_app(admin_password_hash=None).test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    assert "ADMIN_PASSWORD_HASH" in page
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": csrf(page)})
    assert answer.status_code == 403


def test_a_malformed_password_hash_is_a_configuration_error_that_does_not_echo_it() -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(admin_password_hash="plain-text-password")
    assert "ADMIN_PASSWORD_HASH" in str(raised.value) and "plain-text-password" not in str(raised.value)


def test_lists_mask_phones_and_the_detail_page_shows_the_whole_number(client: FlaskClient) -> None:
    sign_in(client)
    triggered = client.post("/trigger-notification", headers={"X-Internal-API-Key": KEY},
                            json={"phone": "+380501234567", "order_id": "ORD-1", "items": ["Lamp"]}).get_json()
    listing = client.get("/admin/notifications").get_data(as_text=True)
    assert "+380*******67" in listing and "+380501234567" not in listing
    assert "+380501234567" in client.get(f"/admin/notifications/{triggered['notification_id']}").get_data(as_text=True)
    assert client.get("/admin/notifications/no-such-id").status_code == 404


def test_filters_that_do_not_parse_are_named_not_fatal(client: FlaskClient) -> None:
    sign_in(client)
    page = client.get("/admin/notifications?status=lost&since=yesterday&phone=1").get_data(as_text=True)
    assert "status: &#39;lost&#39; is not one of" in page and "from: &#39;yesterday&#39;" in page
    assert "at least 3 of its digits" in page


def test_a_link_made_on_the_dashboard_is_shown_once_with_both_deep_links(client: FlaskClient) -> None:
    token = csrf(sign_in(client).get("/admin/contacts").get_data(as_text=True))
    page = client.post("/admin/links", data={"phone": "050 123 45 67", "order_id": "ORD-5", "csrf_token": token})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "+380501234567" in html
    assert re.search(r'value="https://t\.me/shop_bot\?start=ob1[\w-]{38}"', html)
    assert re.search(r'value="viber://pa\?chatURI=shopbot&amp;context=ob1[\w-]{38}"', html)
    bad = client.post("/admin/links", data={"phone": "not a phone", "csrf_token": token})
    assert bad.status_code == 400


def test_hash_password_prints_a_hash_of_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    from click.testing import CliRunner

    from omnibot.entrypoints.cli import main

    result = CliRunner().invoke(main, ["admin", "hash-password", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().splitlines()[0]
    assert check_password_hash(printed, PASSWORD) and PASSWORD not in result.stdout
    Settings.from_env(admin_password_hash=printed)  # the settings take what the command prints
    short = CliRunner().invoke(main, ["admin", "hash-password", "--password-stdin"], input="short\n")
    assert short.exit_code != 0


def test_omnibot_dev_makes_a_password_unless_one_is_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from omnibot.entrypoints.admin_cli import dev_sign_in

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ADMIN_PASSWORD_HASH", raising=False)
    env: dict[str, str] = {}
    password = dev_sign_in(env)
    assert password and check_password_hash(env["ADMIN_PASSWORD_HASH"], password) and env["SECRET_KEY"]
    assert dev_sign_in({"ADMIN_PASSWORD_HASH": env["ADMIN_PASSWORD_HASH"]}) is None


def test_odd_query_strings_and_ids_get_a_page_or_a_404_never_a_500(client: FlaskClient) -> None:
    sign_in(client)
    for url in ("/admin/notifications?page=%C2%B2", "/admin/contacts?page=%C2%B2",
                "/admin/notifications?page=99999999999999999999", "/admin/contacts?page=-3",
                "/admin/notifications?until=9999-12-31T23:59-01:00"):
        assert client.get(url).status_code == 200, url
    assert "from: &#39;0001-01-01T00:00+01:00&#39; is out of range" in client.get(
        "/admin/notifications?since=0001-01-01T00:00%2B01:00").get_data(as_text=True)
    for url in ("/admin/contacts/99999999999999999999", "/admin/contacts/99999999999999999999/erase",
                "/admin/notifications/%00x"):
        assert client.get(url).status_code == 404, url


def test_a_next_page_with_control_characters_is_not_followed(client: FlaskClient) -> None:
    token = csrf(client.get("/admin/login").get_data(as_text=True))
    answer = client.post("/admin/login?next=/admin/%0d%0aX:1", data={"password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"


def test_a_failed_notification_is_resent_once_until_that_resend_fails(client: FlaskClient, tmp_path: Path) -> None:
    sign_in(client)
    failed = client.post("/trigger-notification", headers={"X-Internal-API-Key": KEY},
                         json={"phone": "+380501234567", "order_id": "ORD-9", "items": ["Lamp"]}).get_json()
    page = f"/admin/notifications/{failed['notification_id']}"

    def resends() -> list[tuple[str, str]]:
        with sqlite3.connect(tmp_path / "admin.sqlite3") as database:
            return database.execute("SELECT id, status FROM notifications WHERE request_id = ?",
                                    (f"resend:{failed['notification_id']}",)).fetchall()

    # Two operators with the page open: the first resend is queued, the second click refused.
    token = csrf(client.get(page).get_data(as_text=True))
    assert client.post(f"{page}/resend", data={"csrf_token": token}).status_code == 302
    assert client.post(f"{page}/resend", data={"csrf_token": token}).status_code == 302
    [(resend_id, status)] = resends()
    assert status == "queued" and f'action="{page}/resend"' not in client.get(page).get_data(as_text=True)
    with sqlite3.connect(tmp_path / "admin.sqlite3") as database:
        database.execute("UPDATE notifications SET status = 'failed' WHERE id = ?", (resend_id,))
    client.post(f"{page}/resend", data={"csrf_token": token})
    assert len(resends()) == 2  # that resend failed too: one more is allowed



def test_an_expired_notification_can_be_resent_with_its_priority(client: FlaskClient, tmp_path: Path) -> None:
    sign_in(client)
    accepted = client.post("/v1/notifications", headers={"X-Internal-API-Key": KEY},
                           json={"phone": "+380501234567", "order_id": "ORD-10", "priority": "high"}).get_json()
    with sqlite3.connect(tmp_path / "admin.sqlite3") as database:
        database.execute("UPDATE notifications SET status = 'expired', result = 'Expired: deadline passed' "
                         "WHERE id = ?", (accepted["id"],))
    page = f"/admin/notifications/{accepted['id']}"
    html = client.get(page).get_data(as_text=True)
    assert 'class="badge expired"' in html and f'action="{page}/resend"' in html
    assert client.post(f"{page}/resend", data={"csrf_token": csrf(html)}).status_code == 302
    with sqlite3.connect(tmp_path / "admin.sqlite3") as database:
        [(priority, expires_at)] = database.execute(
            "SELECT priority, expires_at FROM notifications WHERE request_id = ?", (f"resend:{accepted['id']}",))
    assert priority == 0 and expires_at is not None  # high, with a deadline of its own


SVG = "{http://www.w3.org/2000/svg}"


def charts_on(html: str) -> dict[str, ElementTree.Element]:
    """Each chart's SVG, parsed (so well-formed), by the key it carries on the page."""
    return {key: ElementTree.fromstring(svg) for key, svg in
            re.findall(r'<figure class="card chart" data-chart="([\w-]+)">.*?(<svg .*?</svg>)', html, re.S)}


def test_the_notifications_page_charts_the_last_48_hours_as_svg(client: FlaskClient, tmp_path: Path) -> None:
    sign_in(client)
    empty = client.get("/admin/notifications").get_data(as_text=True)
    assert "<svg" not in empty and empty.count("Nothing in the last 48 hours yet") == 2
    assert "No Viber message sent this month yet." in empty

    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    busy, failing = this_hour - timedelta(hours=2), this_hour - timedelta(hours=5)
    engine = make_engine(f"sqlite:///{tmp_path / 'admin.sqlite3'}")
    repository = SqlNotificationRepository(engine)
    for n, (channel, took) in enumerate([(Channel.TELEGRAM, 1), (Channel.TELEGRAM, 3), (Channel.VIBER, 2)]):
        accepted = busy + timedelta(minutes=10 + n)
        repository.add(Notification(
            id=f"00000000-0000-0000-0000-{n:012d}", phone="+380501234567", order_id=None, items=["Lamp"],
            status=NotificationStatus.SENT, channel=channel, created_at=accepted, updated_at=accepted,
            attempts=[DeliveryAttempt(channel, AttemptOutcome.SENT, created_at=accepted + timedelta(seconds=took))]))
    repository.add(Notification(id="00000000-0000-0000-0000-000000000009", phone="+380501234567", order_id=None,
                                items=["Lamp"], status=NotificationStatus.FAILED, created_at=failing,
                                updated_at=failing))
    engine.dispose()

    page = client.get("/admin/notifications").get_data(as_text=True)
    charts = charts_on(page)
    # The Viber send draws this month's Viber chart too, unless two hours ago was last month.
    assert set(charts) - {"viber-month"} == {"outcomes", "time-to-deliver"} and 'role="img"' in page
    outcomes = charts["outcomes"]
    assert outcomes.findtext(f"{SVG}title") == "Sent and failed per hour"
    assert "2 messages sent on Telegram, 1 on Viber, 1 notifications failed" in outcomes.findtext(f"{SVG}desc", "")
    bars = {bar.get("class"): bar for bar in outcomes.iter(f"{SVG}rect")}
    assert sorted(bars) == ["bar failed", "bar telegram", "bar viber"]  # one bar per series with data, none for zeros
    telegram, viber = bars["bar telegram"], bars["bar viber"]
    assert float(telegram.get("height", 0)) == pytest.approx(2 * float(viber.get("height", 0)), abs=0.2)
    assert telegram.get("x") == viber.get("x")  # stacked in one hour's column
    assert float(viber.get("y", 0)) + float(viber.get("height", 0)) == pytest.approx(float(telegram.get("y", 0)),
                                                                                      abs=0.2)
    assert telegram.findtext(f"{SVG}title", "").endswith(f"{busy:%H}:00–{busy + timedelta(hours=1):%H}:00: "
                                                           "2 telegram sent")
    assert [t.text for t in outcomes.iter(f"{SVG}text")][:4] == ["0", "1", "2", "3"]  # y axis, whole counts
    assert sum(1 for t in outcomes.iter(f"{SVG}text") if (t.text or "").endswith(":00")) == 8  # every 6 hours

    times = charts["time-to-deliver"]
    points = {group.get("class"): [c.findtext(f"{SVG}title", "") for c in group.iter(f"{SVG}circle")]
              for group in times.iter(f"{SVG}g") if "series" in (group.get("class") or "")}
    assert points == {"series p50": [f"{busy.day} {busy:%b} {busy:%H}:00–{busy + timedelta(hours=1):%H}:00: "
                                     "p50 (median) 2.0 s of 3 deliveries"],
                      "series p95": [f"{busy.day} {busy:%b} {busy:%H}:00–{busy + timedelta(hours=1):%H}:00: "
                                     "p95 3.0 s of 3 deliveries"]}
    assert not list(times.iter(f"{SVG}polyline"))  # one hour with deliveries: points, no line to join
    assert "3 deliveries" in times.findtext(f"{SVG}desc", "")

    live = client.get("/admin/notifications/charts", headers={"X-Requested-With": "fetch"})
    assert live.status_code == 200 and set(charts_on(live.get_data(as_text=True))) == set(charts)


def paid_broadcasts_card(html: str) -> str | None:
    """The text of the "Telegram paid broadcasts" card, tags and runs of spaces dropped; None when not shown."""
    found = re.search(r'<div class="card stat telegram-paid">(.*?)</div>', html, re.S)
    return None if found is None else " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_months_telegram_paid_broadcasts_are_counted_beside_the_viber_budget(
        make_app: AppFactory, tmp_path: Path) -> None:
    client = sign_in(make_app().test_client())
    assert paid_broadcasts_card(client.get("/admin/notifications").get_data(as_text=True)) is None  # off, none billed
    switched_on = sign_in(make_app(telegram_paid_broadcast=True).test_client())
    assert paid_broadcasts_card(switched_on.get("/admin/notifications").get_data(as_text=True)) == (
        "Telegram paid broadcasts 0 billed · 0 Stars "
        "this month, above the free rate · TELEGRAM_PAID_BROADCAST on")

    now = datetime.now(UTC)
    store_sends(f"sqlite:///{tmp_path / 'admin.sqlite3'}", [
        (now, [STARS, None]), (now, [STARS]), (now, [STARS]), (start_of_month_minus_a_second(), [STARS])])

    # Switched off again, the month's billed messages stay in sight.
    for path in ("/admin/notifications", "/admin/notifications/live"):
        assert paid_broadcasts_card(client.get(path).get_data(as_text=True)) == (
            "Telegram paid broadcasts 3 billed · 0.3 Stars "
            "this month, above the free rate · TELEGRAM_PAID_BROADCAST off"), path


def viber_budget(html: str) -> tuple[str | None, str]:
    """The Viber budget's banner (None when there is none) and card, as text with tags and runs of spaces dropped."""
    def text(pattern: str) -> str | None:
        found = re.search(pattern, html, re.S)
        return None if found is None else unescape(" ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()))

    card = text(r'<div class="card stat viber-budget[^"]*">(.*?)</div>')
    assert card is not None, html
    return text(r'<div class="banner [a-z]+ viber-budget-banner" role="\w+">(.*?)</div>'), card


def test_the_viber_budget_warns_from_80_percent_of_billable_messages_and_says_when_it_is_spent(
        make_app: AppFactory, tmp_path: Path) -> None:
    client = sign_in(make_app(viber_monthly_budget=10, viber_message_price="0.05",
                              viber_price_currency="EUR").test_client())
    engine = make_engine(f"sqlite:///{tmp_path / 'admin.sqlite3'}")
    now = datetime.now(UTC)
    ledger, month = SqlViberLedger(engine, lambda: now), billing_month(now)
    eur = Price(Decimal("0.05"), "EUR")
    store_viber_sends(engine, [
        *[ViberSend(now, Billing.BILLABLE, eur) for _ in range(8)], ViberSend(now, Billing.FREE_SESSION),
        ViberSend(now, Billing.FREE_SESSION), ViberSend(now, Billing.FREE_QUOTA),
        ViberSend(start_of_month_minus_a_second(), Billing.BILLABLE, eur),  # last month's spend
    ])

    def take(billable: int) -> None:
        for _ in range(billable):
            assert ledger.reserve(month, 0, 10) is Billing.BILLABLE

    take(7)
    banner, card = viber_budget(client.get("/admin/notifications").get_data(as_text=True))
    assert banner is None
    assert card == ("Viber budget 7 of 10 billable this month 2 free in session · 1 free from the quota "
                    "0.4 EUR spent since the 1st, UTC · VIBER_MONTHLY_BUDGET 10")

    take(1)  # the ledger's count, not the attempts', is the one the budget is enforced on
    for path in ("/admin/notifications", "/admin/notifications/live"):
        banner, card = viber_budget(client.get(path).get_data(as_text=True))
        assert banner == ("Viber budget nearly spent: 8 of 10 billable messages used this month (80%). "
                          "At 10, billable messages stop until next month."), path
        assert card.startswith("Viber budget 8 of 10 billable this month"), path

    take(2)
    page = client.get("/admin/notifications").get_data(as_text=True)
    banner, _ = viber_budget(page)
    assert banner == ("Viber budget exhausted: billable messages are not sent until next month; notifications go "
                      "to Telegram or fail with 'Failed: Viber budget exhausted'. "
                      "10 of 10 billable messages used (VIBER_MONTHLY_BUDGET).")
    assert 'class="banner error viber-budget-banner" role="alert"' in page
    chart = charts_on(page)["viber-month"]
    assert "8 billable and 3 free messages sent; 8 of the budget of 10 (80%)" in chart.findtext(f"{SVG}desc", "")
    assert {"series billable-so-far", "series budget"} <= {g.get("class") for g in chart.iter(f"{SVG}g")}
    right_axis = next(g for g in chart.iter(f"{SVG}g") if g.get("class") == "axis-right")
    assert [t.text for t in right_axis][-1] == "10"  # reaches the budget
    engine.dispose()

    switched_off = sign_in(make_app(viber_monthly_budget=0).test_client())
    banner, card = viber_budget(switched_off.get("/admin/notifications").get_data(as_text=True))
    assert banner is None
    assert card.startswith("Viber budget Billable messages are off: only free ones go out on Viber "
                           "(10 billable earlier this month).")
    assert "EUR spent" in card  # no price configured now, but this month's spend stays in sight
