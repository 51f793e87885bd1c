"""The coalescer: items that wait for a lane together share one call; a lone item never waits for company."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from service.errors import ModelNotReady
from service.inference.coalescer import Coalescer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the coalescer's futures are asyncio's, as under uvicorn


class GatedWork:
    """Batch work that records each call and, while `gate` is closed, holds its caller's worker thread."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.calls.append(list(items))
        self.started.set()
        self.gate.wait(5)
        return [ValueError(f"odd {item}") if item % 2 else item * 10 for item in items]


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def _occupy_the_only_lane(lanes: Coalescer, work: GatedWork, key: str = "engine") -> asyncio.Task:
    """Item 0 of `key`, running in the lane and held there until work.gate is set."""
    work.gate.clear()
    first = asyncio.create_task(lanes.run(key, 0, work))
    await _until(work.started.is_set)
    return first


async def _queue(lanes: Coalescer, work: GatedWork, entries: list[tuple[str, int]]) -> list[asyncio.Task]:
    """Items that wait for the lane, in order; returns once all of them wait."""
    tasks = [asyncio.create_task(lanes.run(key, item, work)) for key, item in entries]
    await _until(lambda: lanes.waiting == len(entries))
    return tasks


@pytest.mark.anyio
async def test_a_lone_item_runs_at_once_alone():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=4)
    assert await lanes.run("engine", 2, work) == 20
    assert work.calls == [[2]]


@pytest.mark.anyio
async def test_items_that_wait_together_share_one_call_up_to_the_batch_limit():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=3)
    first = await _occupy_the_only_lane(lanes, work)
    waiting = await _queue(lanes, work, [("engine", item) for item in (2, 4, 6, 8)])
    work.gate.set()
    assert await first == 0 and [await task for task in waiting] == [20, 40, 60, 80]
    assert work.calls == [[0], [2, 4, 6], [8]], "the waiting items in order, three to a call"


@pytest.mark.anyio
async def test_only_items_of_one_key_share_a_call():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=4)
    first = await _occupy_the_only_lane(lanes, work, key="a")
    waiting = await _queue(lanes, work, [("b", 2), ("a", 4), ("b", 6)])
    work.gate.set()
    await asyncio.gather(first, *waiting)
    assert work.calls == [[0], [2, 6], [4]], "the oldest item's key first; the other key keeps its turn"


@pytest.mark.anyio
async def test_each_item_gets_its_own_error_and_a_failed_call_fails_all_of_its_items():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=4)
    with pytest.raises(ValueError, match="odd 3"):
        await lanes.run("engine", 3, work)

    def broken(items: list[int]) -> list[int]:
        raise RuntimeError("the engine failed")

    results = await asyncio.gather(*(lanes.run("engine", item, broken) for item in (2, 4)), return_exceptions=True)
    assert [str(result) for result in results] == ["the engine failed"] * 2
    assert await lanes.run("engine", 2, work) == 20, "a lane survives a failed call"


@pytest.mark.anyio
async def test_an_item_cancelled_while_waiting_is_never_run():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=4)
    first = await _occupy_the_only_lane(lanes, work)
    gone, kept = await _queue(lanes, work, [("engine", 2), ("engine", 4)])
    gone.cancel()
    work.gate.set()
    assert await first == 0 and await kept == 40
    assert work.calls == [[0], [4]]


@pytest.mark.anyio
async def test_no_more_calls_run_at_once_than_there_are_lanes():
    running, most = 0, 0
    lock = threading.Lock()

    def work(items: list[int]) -> list[int]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.02)
        with lock:
            running -= 1
        return items

    lanes = Coalescer(lanes=2, max_batch=1)
    assert await asyncio.gather(*(lanes.run("engine", item, work) for item in range(8))) == list(range(8))
    assert most == 2


@pytest.mark.anyio
async def test_an_item_that_arrives_as_the_last_lane_ends_is_still_run():
    lanes = Coalescer(lanes=1, max_batch=4)
    for item in range(200):  # each run ends its lane; the next starts one before the old task's done-callbacks run
        async with asyncio.timeout(5):  # awaited in this task: wait_for's own task would give the callbacks time
            assert await lanes.run("engine", item, lambda items: items) == item


@pytest.mark.anyio
async def test_a_cancelled_lane_answers_its_items_and_the_waiting_ones_with_a_503():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=1)
    running = await _occupy_the_only_lane(lanes, work)
    [waiting] = await _queue(lanes, work, [("engine", 2)])
    for lane in list(lanes._tasks):  # what the event loop's teardown does to a lane
        lane.cancel()
    work.gate.set()
    for task in (running, waiting):
        with pytest.raises(ModelNotReady, match="shutting down"):
            async with asyncio.timeout(5):
                await task


REQUEST = contextvars.ContextVar("request", default=None)


@pytest.mark.anyio
async def test_a_lane_does_not_run_in_the_context_of_the_request_that_started_it():
    seen: list[object] = []

    def work(items: list[int]) -> list[int]:
        seen.append(REQUEST.get())
        return items

    REQUEST.set("request-a")
    assert await Coalescer(lanes=1, max_batch=4).run("engine", 1, work) == 1
    assert seen == [None], "a lane serves many requests: it must not log or trace as the first one"


@pytest.mark.anyio
async def test_a_lane_is_claimed_only_when_free_with_nothing_queued_and_its_release_serves_the_queue():
    work, lanes = GatedWork(), Coalescer(lanes=1, max_batch=4)
    assert lanes.claim_idle_lane()
    assert not lanes.claim_idle_lane(), "the only lane is taken"
    queued = asyncio.create_task(lanes.run("engine", 2, work))
    await _until(lambda: lanes.waiting == 1)
    assert not work.calls, "no lane free: the item waits"
    lanes.release_lane()
    async with asyncio.timeout(5):
        assert await queued == 20
    assert work.calls == [[2]]
    assert lanes.claim_idle_lane(), "free again once the queue is served"
    lanes.release_lane()
