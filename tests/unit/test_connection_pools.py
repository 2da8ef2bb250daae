"""How many database connections each kind of process may hold (README, "Connections")."""

from __future__ import annotations

from omnibot.adapters.db.engine import API_THREADS, connections_needed, pool_limits


def test_an_api_process_never_holds_more_connections_than_it_has_threads() -> None:
    size, overflow = pool_limits("api", worker_concurrency=64)
    assert size + overflow == API_THREADS


def test_a_worker_holds_one_connection_per_eight_sends_in_flight_within_bounds() -> None:
    assert pool_limits("worker", 64) == (8, 0)
    assert pool_limits("worker", 1) == (2, 0)
    assert pool_limits("worker", 1024) == (16, 0)


def test_the_embedded_default_holds_both_in_one_process() -> None:
    assert pool_limits("api", 64, embedded_worker=True) == (API_THREADS + 8, 0)


def test_the_default_deployment_fits_a_stock_postgresql() -> None:
    # The most processes `omnibot serve` starts by default (8) and three workers, with their LISTEN
    # connections, under PostgreSQL's default 100 connections less 3 reserved.
    assert connections_needed(serve_processes=8, workers=3, worker_concurrency=64) == 8 * 8 + 3 * 9
    assert connections_needed(serve_processes=8, workers=3, worker_concurrency=64) <= 97
