"""Inline delivery (``compat`` change 5): the fast path, and the waits it must still honour."""

import asyncio
import warnings
from typing import Any

import pytest
from mode import Service

from correlator.stream import compat


class Consumer(Service):
    """A mode service with Faust's consumer's ``wait_first`` replaced as the worker has it."""


compat._deliver_inline(Consumer)


def run(test: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would be reported
        return asyncio.run(test())


def test_a_delivery_that_never_waits_returns_its_result_and_starts_no_task() -> None:
    async def deliver() -> str:
        return "delivered"

    async def test() -> tuple[Any, int]:
        consumer, suspended = Consumer(), asyncio.Event()
        before = len(asyncio.all_tasks())
        results = await consumer.wait_first(deliver(), suspended.wait())
        return results, len(asyncio.all_tasks()) - before

    results, new_tasks = run(test)
    assert results.results == ["delivered"] and not results.stopped
    assert new_tasks == 0


def test_a_delivery_that_waits_is_awaited_to_its_end() -> None:
    steps: list[str] = []

    async def deliver(ready: asyncio.Event) -> str:
        steps.append("before")
        await ready.wait()
        await asyncio.sleep(0)
        steps.append("after")
        return "delivered"

    async def test() -> Any:
        consumer, suspended, ready = Consumer(), asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, ready.set)
        return await consumer.wait_first(deliver(ready), suspended.wait())

    assert run(test).results == ["delivered"]
    assert steps == ["before", "after"]


def test_a_suspended_flow_cuts_a_waiting_delivery_short_and_cancels_it() -> None:
    """What Faust's wait_first is there for: a rebalance frees a delivery stuck on a full
    buffer; the delivery is cancelled, and its cleanup runs."""
    cleaned_up: list[bool] = []

    async def deliver(never: asyncio.Event) -> None:
        try:
            await never.wait()
        finally:
            cleaned_up.append(True)

    async def test() -> Any:
        consumer, suspended, never = Consumer(), asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, suspended.set)
        results = await consumer.wait_first(deliver(never), suspended.wait())
        await asyncio.sleep(0)  # the cancelled delivery's cleanup
        return results

    results = run(test)
    assert len(results.results) == 1 and results.results[0] is True  # the flow's wait won
    assert cleaned_up == [True]


def test_an_error_in_a_delivery_reaches_the_caller() -> None:
    async def deliver(fail_after_wait: bool) -> None:
        if fail_after_wait:
            await asyncio.sleep(0)
        raise ValueError("bad record")

    async def test(fail_after_wait: bool) -> None:
        await Consumer().wait_first(deliver(fail_after_wait), asyncio.Event().wait())

    for fail_after_wait in (False, True):
        with pytest.raises(ValueError, match="bad record"):
            run(lambda fail_after_wait=fail_after_wait: test(fail_after_wait))


def test_a_cancelled_caller_cancels_the_waiting_delivery() -> None:
    cancelled: list[bool] = []

    async def deliver() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def test() -> None:
        consumer = Consumer()
        caller = asyncio.ensure_future(consumer.wait_first(deliver(), asyncio.Event().wait()))
        await asyncio.sleep(0.01)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

    run(test)
    assert cancelled == [True]
