"""How many database connections each kind of process may hold (README, "Connections")."""

from __future__ import annotations

from omnibot.adapters.db.engine import API_THREADS, WORKER_STORE_THREADS, connections_needed, pool_limits


def test_an_api_process_never_holds_more_connections_than_it_has_threads() -> None:
    size, overflow = pool_limits("api")
    assert size + overflow == API_THREADS


def test_a_worker_holds_a_connection_per_store_thread_and_one_for_its_group_commit() -> None:
    assert pool_limits("worker") == (WORKER_STORE_THREADS + 1, 0)


def test_the_embedded_default_holds_both_in_one_process() -> None:
    assert pool_limits("api", embedded_worker=True) == (API_THREADS + WORKER_STORE_THREADS + 1, 0)


def test_the_default_deployment_fits_a_stock_postgresql() -> None:
    # The most processes `omnibot serve` starts by default (8) and three workers, with their LISTEN
    # connections, under PostgreSQL's default 100 connections less 3 reserved.
    assert connections_needed(serve_processes=8, workers=3) == 8 * 8 + 3 * (WORKER_STORE_THREADS + 2)
    assert connections_needed(serve_processes=8, workers=3) <= 97
