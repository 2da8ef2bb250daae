"""The month's Viber ledger: the same contract in memory, on SQLite and on PostgreSQL, and the
budget's last message taken by exactly one of many workers racing for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from omnibot.adapters.db.viber_ledger import SqlViberLedger
from omnibot.domain.model import Billing
from omnibot.ports import ViberLedger
from tests.fakes import InMemoryViberLedger, ManualClock


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> ViberLedger:
    if request.param == "memory":
        return InMemoryViberLedger()
    engine: Engine = request.getfixturevalue(
        "migrated_postgres_engine" if request.param == "postgres" else "sqlite_engine")
    return SqlViberLedger(engine, ManualClock().now)


def test_the_free_quota_goes_first_then_the_budget_then_nothing(ledger: ViberLedger) -> None:
    taken = [ledger.reserve("2026-12", 2, 3) for _ in range(6)]
    assert taken == [Billing.FREE_QUOTA] * 2 + [Billing.BILLABLE] * 3 + [None]
    assert ledger.used("2026-12") == (2, 3)


def test_each_month_counts_on_its_own(ledger: ViberLedger) -> None:
    assert ledger.reserve("2026-11", 0, 1) is Billing.BILLABLE
    assert ledger.reserve("2026-11", 0, 1) is None
    assert ledger.reserve("2026-12", 0, 1) is Billing.BILLABLE
    assert ledger.used("2026-11") == (0, 1) and ledger.used("2027-01") == (0, 0)


def test_a_message_given_back_can_be_taken_again_and_never_below_zero(ledger: ViberLedger) -> None:
    assert ledger.reserve("2026-12", 1, 1) is Billing.FREE_QUOTA
    assert ledger.reserve("2026-12", 1, 1) is Billing.BILLABLE
    ledger.give_back("2026-12", Billing.BILLABLE)
    assert ledger.used("2026-12") == (1, 0)
    ledger.give_back("2026-12", Billing.BILLABLE)  # a stray give-back frees nothing that was not taken
    assert ledger.used("2026-12") == (1, 0)
    assert ledger.reserve("2026-12", 1, 1) is Billing.BILLABLE
    assert ledger.reserve("2026-12", 1, 1) is None


def test_a_budget_of_zero_allows_only_the_free_quota(ledger: ViberLedger) -> None:
    assert [ledger.reserve("2026-12", 1, 0) for _ in range(2)] == [Billing.FREE_QUOTA, None]


def test_workers_racing_for_the_budget_never_take_more_than_it(migrated_postgres_engine: Engine) -> None:
    ledgers = [SqlViberLedger(migrated_postgres_engine, ManualClock().now) for _ in range(8)]
    start = threading.Barrier(8)

    def take_all(ledger: SqlViberLedger) -> list[Billing | None]:
        start.wait()  # every worker asks at once, the month's row not yet made
        return [ledger.reserve("2026-12", 3, 10) for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        taken = [billing for answers in pool.map(take_all, ledgers) for billing in answers]
    assert taken.count(Billing.FREE_QUOTA) == 3
    assert taken.count(Billing.BILLABLE) == 10
    assert taken.count(None) == 40 - 13
    assert ledgers[0].used("2026-12") == (3, 10)
