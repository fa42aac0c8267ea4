from __future__ import annotations

import asyncio

import pytest

from shared.batching import Coalescer


class Recorder:
    def __init__(self, delay_s: float = 0.01, fail: bool = False) -> None:
        self.sent: list[list[int]] = []
        self.delay_s = delay_s
        self.fail = fail
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, items: list[int]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        if self.fail:
            raise ValueError("broker said no")
        self.sent.append(items)


async def test_a_lone_item_goes_at_once_and_a_crowd_gathers_behind_it() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, batch_max=100)
    coalescer.start()
    try:
        first = asyncio.ensure_future(coalescer.submit([0]))
        await asyncio.sleep(0.001)  # its send is in flight now
        await asyncio.gather(first, *(coalescer.submit([i]) for i in range(1, 50)))
    finally:
        await coalescer.close()
    assert recorder.sent[0] == [0]  # nothing was in flight: sent alone
    assert len(recorder.sent) == 2  # the other 49 waited for it, then went together
    assert sorted(item for batch in recorder.sent for item in batch) == list(range(50))


async def test_batches_respect_the_maximum_but_a_large_submit_goes_alone() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, batch_max=10)
    coalescer.start()
    try:
        await asyncio.gather(
            coalescer.submit([0]),
            *(coalescer.submit([i]) for i in range(1, 26)),
            coalescer.submit(list(range(100, 130))),
        )
    finally:
        await coalescer.close()
    assert all(len(batch) <= 10 for batch in recorder.sent if batch[0] < 100)
    assert list(range(100, 130)) in recorder.sent


async def test_sends_in_flight_are_bounded() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder.send, batch_max=1, in_flight_max=3)
    coalescer.start()
    try:
        await asyncio.gather(*(coalescer.submit([i]) for i in range(12)))
    finally:
        await coalescer.close()
    assert recorder.most_in_flight == 3


async def test_every_waiter_of_a_failed_send_gets_its_error() -> None:
    recorder = Recorder(fail=True)
    coalescer = Coalescer(recorder.send, batch_max=100)
    coalescer.start()
    try:
        results = await asyncio.gather(
            *(coalescer.submit([i]) for i in range(5)), return_exceptions=True
        )
    finally:
        await coalescer.close()
    assert all(isinstance(r, ValueError) for r in results)


async def test_close_fails_what_was_never_sent() -> None:
    coalescer: Coalescer[int] = Coalescer(Recorder().send, batch_max=10)
    waiting = asyncio.ensure_future(coalescer.submit([1]))  # never started: never sent
    await asyncio.sleep(0)
    await coalescer.close()
    with pytest.raises(ConnectionError):
        await waiting
