"""Requests that wait for the model together go through it together.

Under load, several requests wait for a model lane at once. A batch of images in one LiteRT call costs less per
image than the same images one call each (the weights are read once per call: a batch of 4 took ~0.85x the time
per image on two cores), so when a lane frees up it takes every waiting item that can share its call, up to
`max_batch`, instead of one. A lone request never waits for company: with a lane free and nothing queued it
claims the lane and runs at once, alone, without the queue's extra thread hop.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from service.errors import ModelNotReady

Item = TypeVar("Item")
Result = TypeVar("Result")

# One call for several waiting items: a result (or the exception) for each, in order. It runs in a worker thread.
BatchWork = Callable[[list[Item]], Sequence[Result | Exception]]


@dataclass(frozen=True)
class _Waiting(Generic[Item, Result]):
    key: object  # only items of one key share a call (the same engine): compared with ==
    item: Item
    work: BatchWork
    future: asyncio.Future[Result]


class Coalescer(Generic[Item, Result]):
    """At most `lanes` calls run at once; each takes up to `max_batch` waiting items of its first item's key."""

    def __init__(self, lanes: int, max_batch: int):
        self._lanes, self._max_batch = lanes, max_batch
        self._waiting: deque[_Waiting[Item, Result]] = deque()
        # Counted when a lane starts and when its loop ends, with no await between the empty queue it saw and the
        # count: a task's done-callback runs later, and an item arriving in between would wait with no lane.
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held, so that a running lane is never collected

    async def run(self, key: object, item: Item, work: BatchWork) -> Result:
        """`item`'s result from a call of `work` over it and whichever waiting items of `key` join it."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(key, item, work, loop.create_future())
        self._waiting.append(waiting)
        if self._active < self._lanes:
            self._start_lane(loop)
        return await waiting.future  # cancelled with its request: the lane then skips it

    def claim_idle_lane(self) -> bool:
        """Take a lane for a call made outside the queue, when one is free and nothing waits; release it after.

        A lone request can then decode and infer in one worker hop, as if there were no queue."""
        if self._active < self._lanes and not self._waiting:
            self._active += 1
            return True
        return False

    def release_lane(self) -> None:
        self._active -= 1
        if self._waiting and self._active < self._lanes:  # items queued while the lane was claimed
            self._start_lane(asyncio.get_running_loop())

    def _start_lane(self, loop: asyncio.AbstractEventLoop) -> None:
        self._active += 1
        # its own context: a lane serves many requests, and must not run in (and log as) the one that started it
        lane = loop.create_task(self._lane(), context=contextvars.Context())
        self._tasks.add(lane)
        lane.add_done_callback(self._tasks.discard)

    @property
    def waiting(self) -> int:
        """Items waiting for a lane (cancelled ones included until a lane skips them)."""
        return len(self._waiting)

    async def _lane(self) -> None:
        try:
            while batch := self._take():
                await self._call(batch)
        finally:
            self._active -= 1
            if self._active == 0:  # only a cancelled lane (the loop shutting down) leaves items behind
                _abandon(self._waiting)
                self._waiting.clear()

    async def _call(self, batch: list[_Waiting[Item, Result]]) -> None:
        try:
            results = await anyio.to_thread.run_sync(batch[0].work, [waiting.item for waiting in batch])
            outcomes = list(zip(batch, results, strict=True))
        except Exception as error:  # the call itself failed (the engine): so did every item in it
            outcomes = [(waiting, error) for waiting in batch]
        except BaseException:  # cancelled (the loop shutting down): answer its items rather than leave them
            _abandon(batch)
            raise
        for waiting, result in outcomes:
            _settle(waiting.future, result)

    def _take(self) -> list[_Waiting[Item, Result]]:
        """The oldest live item and the next live ones of its key, up to max_batch; the rest keep their order."""
        batch: list[_Waiting[Item, Result]] = []
        kept: deque[_Waiting[Item, Result]] = deque()
        while self._waiting:
            waiting = self._waiting.popleft()
            if waiting.future.done():  # its request was cancelled while it waited
                continue
            if len(batch) < self._max_batch and (not batch or waiting.key == batch[0].key):
                batch.append(waiting)
            else:
                kept.append(waiting)
        self._waiting = kept
        return batch


def _abandon(items: Sequence[_Waiting]) -> None:
    for waiting in items:
        _settle(waiting.future, ModelNotReady("the service is shutting down"))


def _settle(future: asyncio.Future, result: object) -> None:
    if future.done():  # cancelled during the call
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
