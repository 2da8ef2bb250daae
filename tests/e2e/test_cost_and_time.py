"""Cost and time through real processes: `omnibot worker`s on PostgreSQL against the sandbox, which
bills Viber's messages as Viber does and answers Telegram's flood waits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import PostgresServer
from tests.e2e.engine_stack import TELEGRAM_LINK, EngineStack, start_engine_stack

pytestmark = pytest.mark.postgres

VIBER_LINK = "viber://pa?chatURI=omnibotsandbox&context={order}"
# Viber's session made short on both sides, so a customer who wrote is soon outside it.
SHORT_SESSION_SECONDS = 2.0


@pytest.fixture(scope="module")
def engine_stack(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineStack]:
    workdir = tmp_path_factory.mktemp("cost-and-time")
    stack, processes = start_engine_stack(postgres_server.create_database(), workdir)
    try:
        yield stack
    finally:
        stack.stop_workers()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        stack.database.dispose()


@pytest.fixture
def stack(engine_stack: EngineStack) -> Iterator[EngineStack]:
    engine_stack.reset()
    with engine_stack.database.begin() as connection:
        connection.execute(sa.text("DELETE FROM viber_ledger"))
    yield engine_stack
    engine_stack.stop_workers()


def act(stack: EngineStack, customer: str, action: str, **body: object) -> None:
    answer = stack.sandbox.post(f"/sandbox/customers/{customer}/{action}", json=body).json()
    assert answer["webhook_status"] == 200, answer


def customer(stack: EngineStack, *, telegram: bool, viber: bool) -> tuple[str, str]:
    """A customer linked on the named messengers, phone shared on each: (sandbox id, phone)."""
    phone = f"+38063{uuid.uuid4().int % 10**7:07d}"
    sandbox_id = stack.sandbox.post("/sandbox/customers", json={"name": "Iryna", "phone": phone}).json()["id"]
    if telegram:
        act(stack, sandbox_id, "open-link", url=TELEGRAM_LINK.format(order=f"L-{uuid.uuid4().hex[:6]}"))
        act(stack, sandbox_id, "telegram/share-contact")
    if viber:
        act(stack, sandbox_id, "open-link", url=VIBER_LINK.format(order=f"L-{uuid.uuid4().hex[:6]}"))
        act(stack, sandbox_id, "viber/share-contact")  # a message: it opens the customer's session
    return sandbox_id, phone


def notification(stack: EngineStack, notification_id: str) -> dict[str, object]:
    answer: dict[str, object] = stack.api.get(f"/v1/notifications/{notification_id}",
                                              headers={"X-Internal-API-Key": stack.env["INTERNAL_API_KEY"]}).json()
    return answer


def final(stack: EngineStack, ids: list[str], seconds: float = 30) -> list[dict[str, object]]:
    final_statuses = {"sent", "delivered", "seen", "failed", "expired"}
    stack.wait_for(lambda: all(notification(stack, i)["status"] in final_statuses for i in ids), seconds,
                   "every notification to end")
    return [notification(stack, i) for i in ids]


def viber_billing(stack: EngineStack) -> dict[str, int]:
    billing: dict[str, int] = stack.stats()["viber_billing"]  # type: ignore[assignment]
    return billing


def wait_for_the_replies(stack: EngineStack, customers: list[str]) -> None:
    """The phone-linked replies go out from a worker: let them, so they are not taken for notifications."""
    stack.start_worker()
    stack.wait_for(lambda: all(len(stack.sandbox.get(f"/sandbox/customers/{c}/messages",
                                                     params={"channel": "viber"}).json()) >= 2 for c in customers),
                   20, "the phone-linked replies")
    stack.stop_workers()
    stack.sandbox.post("/sandbox/stats/reset")


def test_two_workers_racing_for_the_budget_send_exactly_the_budget(stack: EngineStack) -> None:
    stack.faults(rate_limits={"enforce": False, "viber_session_seconds": SHORT_SESSION_SECONDS})
    people = [customer(stack, telegram=False, viber=True) for _ in range(8)]
    wait_for_the_replies(stack, [sandbox_id for sandbox_id, _ in people])
    time.sleep(SHORT_SESSION_SECONDS + 0.5)  # every session over: each message now billable
    ids = stack.submit_many([(phone, f"B-{n}") for n, (_, phone) in enumerate(people)])
    budget = {"VIBER_MONTHLY_BUDGET": "3", "VIBER_SESSION_HOURS": str(SHORT_SESSION_SECONDS / 3600)}
    stack.start_worker(**budget)
    stack.start_worker(**budget)
    results = [n["result"] for n in final(stack, ids)]
    assert sorted(results) == ["Failed: Viber budget exhausted"] * 5 + ["Sent via Viber"] * 3
    assert viber_billing(stack) == {"free_session": 0, "free_quota": 0, "billable": 3}  # what Viber billed
    with stack.database.connect() as connection:
        assert connection.execute(sa.text("SELECT billable_used FROM viber_ledger")).scalar_one() == 3
    sent = [n for n in (notification(stack, i) for i in ids) if n["status"] == "sent"]
    attempts = [a for n in sent for a in n["attempts"] if a["outcome"] == "sent"]  # type: ignore[attr-defined]
    assert {(a["billing"], a["billable"]) for a in attempts} == {("billable", True)}


def test_a_customer_inside_the_session_is_sent_free_and_counts_nothing(stack: EngineStack) -> None:
    people = [customer(stack, telegram=False, viber=True)]
    wait_for_the_replies(stack, [people[0][0]])
    [notification_id] = stack.submit_many([(people[0][1], "FREE-1")])
    stack.start_worker(VIBER_MONTHLY_BUDGET="0")  # no billable message allowed: free ones still go
    [done] = final(stack, [notification_id])
    assert done["result"] == "Sent via Viber"
    assert [a["billing"] for a in done["attempts"]] == ["free_session"]  # type: ignore[attr-defined]
    assert viber_billing(stack) == {"free_session": 1, "free_quota": 0, "billable": 0}


def test_a_flood_wait_of_an_hour_hands_the_notification_to_viber_within_seconds(stack: EngineStack) -> None:
    sandbox_id, phone = customer(stack, telegram=True, viber=True)
    wait_for_the_replies(stack, [sandbox_id])
    stack.faults(error_rates={"telegram.sendMessage": {"rate": 1, "error_code": 429, "retry_after": 3600}})
    [notification_id] = stack.submit_many([(phone, "FLOOD-1")])
    started = time.monotonic()
    stack.start_worker()
    [done] = final(stack, [notification_id], seconds=20)
    assert done["result"] == "Sent via Viber"
    assert time.monotonic() - started < 15
    outcomes = [(a["channel"], a["outcome"]) for a in done["attempts"]]  # type: ignore[attr-defined]
    assert outcomes == [("telegram", "transient_failure"), ("viber", "sent")]
    assert stack.stats()["delivered"]["viber"] == 1  # type: ignore[index]


def test_an_expired_notification_is_never_sent(stack: EngineStack) -> None:
    sandbox_id, phone = customer(stack, telegram=True, viber=False)
    answer = stack.submit(phone, "LATE-1", ttl_seconds=1)
    assert answer.status_code == 202 and answer.json()["expires_at"]
    time.sleep(1.5)  # no worker yet: the deadline passes while it waits
    stack.start_worker()
    [done] = final(stack, [answer.json()["id"]])
    assert (done["status"], done["result"], done["attempts"]) == ("expired", "Expired: deadline passed", [])
    received = stack.sandbox.get(f"/sandbox/customers/{sandbox_id}/messages", params={"channel": "telegram"}).json()
    assert not any("LATE-1" in str(message["text"]) for message in received)


def test_quiet_hours_hold_queued_notifications_until_the_window_ends(stack: EngineStack) -> None:
    _, phone = customer(stack, telegram=True, viber=False)
    now = datetime.now(UTC)
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    [notification_id] = stack.submit_many([(phone, "NIGHT-1")])
    stack.start_worker(QUIET_HOURS=window, QUIET_HOURS_TZ="UTC")
    stack.wait_for(lambda: notification(stack, notification_id)["result"] == "Queued for retry", 15,
                   "the notification to be held")
    held = notification(stack, notification_id)
    assert held["status"] == "queued" and held["attempts"] == []
    morning = datetime.fromisoformat(str(held["next_attempt_at"]))
    assert timedelta(minutes=50) < morning - now < timedelta(minutes=61)


def test_a_high_notification_goes_before_the_bulk_queued_ahead_of_it(stack: EngineStack) -> None:
    _, bulk_phone = customer(stack, telegram=True, viber=False)
    urgent_id, urgent_phone = customer(stack, telegram=True, viber=False)
    with ThreadPoolExecutor(8) as pool:  # announcements, all queued before the high one
        answers = list(pool.map(lambda n: stack.submit(bulk_phone, f"SALE-{n}", priority="bulk"), range(300)))
    assert {(a.status_code, a.json()["priority"]) for a in answers} == {(202, "bulk")}
    bulk_ids = [a.json()["id"] for a in answers]
    answer = stack.submit(urgent_phone, "URGENT-1", priority="high")
    assert answer.status_code == 202 and answer.json()["priority"] == "high"
    stack.start_worker()  # Telegram 30/s: the bulk alone takes ten seconds
    stack.wait_for(lambda: notification(stack, answer.json()["id"])["status"] == "sent", 10, "the high one")
    bulk_sent = sum(1 for i in bulk_ids if notification(stack, i)["status"] == "sent")
    assert bulk_sent < 100, bulk_sent
    received = stack.sandbox.get(f"/sandbox/customers/{urgent_id}/messages", params={"channel": "telegram"}).json()
    assert any("URGENT-1" in str(message["text"]) for message in received)
