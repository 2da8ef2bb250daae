"""The worker's store threads: an executor that keeps serving while the interpreter exits."""

from __future__ import annotations

import asyncio
import threading

import pytest

from omnibot.entrypoints.store_threads import StoreThreads


def test_calls_run_on_the_store_threads_and_their_errors_reach_the_caller() -> None:
    threads = StoreThreads(2, name="store-test")

    async def use() -> tuple[str, Exception]:
        loop = asyncio.get_running_loop()
        name = await loop.run_in_executor(threads, lambda: threading.current_thread().name)
        try:
            await loop.run_in_executor(threads, int, "not a number")
        except ValueError as error:
            return name, error
        raise AssertionError("the error was lost")

    name, error = asyncio.run(use())
    threads.shutdown()
    assert name.startswith("store-test-") and "not a number" in str(error)


def test_closed_threads_take_no_more_work() -> None:
    threads = StoreThreads(1)
    threads.shutdown()
    with pytest.raises(RuntimeError):
        threads.submit(print)
