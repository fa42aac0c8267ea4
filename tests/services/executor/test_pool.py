"""The warm pool's decisions, without processes: reuse, LRU eviction, budgets, recycling."""

from __future__ import annotations

import pytest

from services.executor.pool import Pool, PoolLimits, Slot
from services.executor.runner import FunctionKey

A = FunctionKey("t1", "a", 1)
A2 = FunctionKey("t1", "a", 2)
B = FunctionKey("t1", "b", 1)
C = FunctionKey("t2", "c", 1)


def limits(**overrides: int | float) -> PoolLimits:
    values: dict[str, int | float] = {
        "workers_max": 4,
        "memory_budget_mb": 1000,
        "max_runs": 3,
        "idle_ttl_s": 60.0,
        "prewarm": 1,
        "prewarm_mb": 10,
    }
    values.update(overrides)
    return PoolLimits(**values)  # type: ignore[arg-type]


def idle_worker(pool: Pool[str], key: FunctionKey | None, mb: int, at: float) -> Slot[str]:
    """A started worker, bound to ``key`` (or pre-warmed), idle since ``at``."""
    reserved = pool.reserve(key, mb)
    assert reserved is not None
    slot, _ = reserved
    pool.started(slot, f"worker-{len(pool.slots)}", at)
    if key is not None:
        assert pool.release(slot, reusable=True, now=at)
        slot.runs = 0
    return slot


def test_a_warm_worker_of_the_key_is_reused_most_recent_first() -> None:
    pool: Pool[str] = Pool(limits())
    older = idle_worker(pool, A, 100, at=1.0)
    newer = idle_worker(pool, A, 100, at=2.0)
    idle_worker(pool, B, 100, at=3.0)
    assert pool.take_warm(A) is newer
    assert pool.take_warm(A) is older
    assert pool.take_warm(A) is None  # both busy now: a new worker is needed
    assert pool.take_warm(A2) is None  # another version is another function


def test_a_prewarmed_worker_is_bound_with_the_jobs_reservation() -> None:
    pool: Pool[str] = Pool(limits())
    prewarmed = idle_worker(pool, None, 10, at=1.0)
    taken = pool.take_prewarmed(A, 300)
    assert taken is not None
    slot, evicted = taken
    assert slot is prewarmed and evicted == []
    assert (slot.key, slot.reserved_mb, slot.busy) == (A, 300, True)
    assert pool.take_prewarmed(B, 300) is None  # none left


def test_room_is_made_by_ending_the_least_recently_used_idle_worker() -> None:
    pool: Pool[str] = Pool(limits(workers_max=3))
    oldest = idle_worker(pool, A, 100, at=1.0)
    idle_worker(pool, B, 100, at=2.0)
    idle_worker(pool, None, 10, at=0.5)  # pre-warmed ones go after bound ones
    reserved = pool.reserve(C, 100)
    assert reserved is not None
    _, evicted = reserved
    assert evicted == [oldest]
    assert oldest not in pool.slots and len(pool.slots) == 3


def test_the_memory_budget_ends_as_many_idle_workers_as_needed() -> None:
    pool: Pool[str] = Pool(limits(memory_budget_mb=500, workers_max=10))
    first = idle_worker(pool, A, 200, at=1.0)
    second = idle_worker(pool, B, 200, at=2.0)
    reserved = pool.reserve(C, 400)
    assert reserved is not None
    assert reserved[1] == [first, second]
    assert pool.reserved_mb == 400


def test_busy_workers_are_never_ended_to_make_room() -> None:
    pool: Pool[str] = Pool(limits(memory_budget_mb=500))
    busy = idle_worker(pool, A, 300, at=1.0)
    assert pool.take_warm(A) is busy
    idle = idle_worker(pool, B, 100, at=2.0)
    assert pool.reserve(C, 300) is None  # must wait: ending the idle one would not be enough
    assert idle in pool.slots  # and nothing was ended for nothing


def test_a_reservation_never_exceeds_the_whole_budget() -> None:
    pool: Pool[str] = Pool(limits(memory_budget_mb=500))
    assert pool.reservation_mb(memory_mb=4096, tmp_mb=64) == 500
    assert pool.reservation_mb(memory_mb=128, tmp_mb=64) == 192


def test_a_worker_is_recycled_after_max_runs() -> None:
    pool: Pool[str] = Pool(limits(max_runs=3))
    slot = idle_worker(pool, A, 100, at=1.0)
    for run in range(1, 3):
        assert pool.take_warm(A) is slot
        assert pool.release(slot, reusable=True, now=float(run))
    assert pool.take_warm(A) is slot
    assert not pool.release(slot, reusable=True, now=9.0)  # its third run: replaced
    assert slot not in pool.slots


def test_a_worker_whose_call_went_wrong_is_not_kept() -> None:
    pool: Pool[str] = Pool(limits())
    slot = idle_worker(pool, A, 100, at=1.0)
    assert pool.take_warm(A) is slot
    assert not pool.release(slot, reusable=False, now=2.0)
    assert pool.slots == []


def test_idle_workers_expire_after_the_ttl_but_prewarmed_ones_stay() -> None:
    pool: Pool[str] = Pool(limits(idle_ttl_s=60.0))
    stale = idle_worker(pool, A, 100, at=0.0)
    fresh = idle_worker(pool, B, 100, at=50.0)
    prewarmed = idle_worker(pool, None, 10, at=0.0)
    assert pool.expired(now=61.0) == [stale]
    assert pool.slots == [fresh, prewarmed]


def test_forget_ends_idle_workers_of_every_version_and_marks_busy_ones() -> None:
    pool: Pool[str] = Pool(limits(workers_max=10))
    idle_v1 = idle_worker(pool, A, 100, at=1.0)
    busy_v2 = idle_worker(pool, A2, 100, at=1.0)
    other = idle_worker(pool, B, 100, at=1.0)
    assert pool.take_warm(A2) is busy_v2
    assert pool.forget("t1", "a") == [idle_v1]
    assert busy_v2.retiring and busy_v2 in pool.slots
    assert pool.take_warm(A2) is None  # a retiring worker takes no new job
    assert not pool.release(busy_v2, reusable=True, now=2.0)  # ended when its job is done
    assert pool.slots == [other]


def test_forget_leaves_other_tenants_alone() -> None:
    pool: Pool[str] = Pool(limits())
    mine = idle_worker(pool, FunctionKey("t1", "same", 1), 100, at=1.0)
    theirs = idle_worker(pool, FunctionKey("t2", "same", 1), 100, at=1.0)
    assert pool.forget("t1", "same") == [mine]
    assert pool.slots == [theirs]


@pytest.mark.parametrize(
    ("workers_max", "budget_mb", "prewarm", "existing", "wanted"),
    [
        (4, 1000, 2, 0, 2),  # room for all
        (4, 1000, 2, 3, 1),  # only one slot left
        (4, 15, 2, 0, 1),  # memory for one
        (4, 1000, 0, 0, 0),  # pre-warming off
    ],
)
def test_prewarming_uses_only_free_room(
    workers_max: int, budget_mb: int, prewarm: int, existing: int, wanted: int
) -> None:
    pool: Pool[str] = Pool(
        limits(workers_max=workers_max, memory_budget_mb=budget_mb, prewarm=prewarm)
    )
    for index in range(existing):
        idle_worker(pool, FunctionKey("t", f"f{index}", 1), 1, at=1.0)
    assert pool.prewarm_wanted() == wanted


def test_unbound_workers_still_starting_count_as_prewarmed() -> None:
    pool: Pool[str] = Pool(limits(prewarm=2))
    assert pool.reserve(None, 10) is not None  # starting: no worker yet
    assert pool.prewarm_wanted() == 1
    assert pool.take_prewarmed(A, 100) is None  # not ready: cannot be bound
