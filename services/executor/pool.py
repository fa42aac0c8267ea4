"""The warm pool's bookkeeping: which worker serves a job, which ones to end. No I/O here.

A slot is one worker process from the moment it is decided until it ends. Each slot
reserves memory (its function's ``memory`` plus its /tmp, or a small amount while
pre-warmed); the pool keeps the slot count within ``workers_max`` and the reservations
within ``memory_budget_mb``, ending idle workers least recently used first to make room.
Busy workers are never ended by the pool: when nothing idle is left to end, a job waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from services.executor.runner import FunctionKey

W = TypeVar("W")


@dataclass(frozen=True)
class PoolLimits:
    workers_max: int  # worker processes alive at once, busy or idle
    memory_budget_mb: int  # sum of the slots' reservations
    max_runs: int  # calls one worker serves before it is replaced
    idle_ttl_s: float  # seconds a bound worker stays idle before it is ended
    prewarm: int  # unbound workers kept ready
    prewarm_mb: int  # reservation of an unbound worker


@dataclass(eq=False)
class Slot(Generic[W]):
    """One worker process, as the pool accounts for it."""

    reserved_mb: int
    key: FunctionKey | None = None  # None: pre-warmed, bound to no function yet
    worker: W | None = None  # None while the process starts
    busy: bool = True  # serving a job, or starting
    runs: int = 0
    idle_since: float = 0.0
    retiring: bool = False  # its function changed while it was busy: end it on release

    @property
    def ready(self) -> bool:
        return self.worker is not None and not self.busy


@dataclass
class Pool(Generic[W]):
    limits: PoolLimits
    slots: list[Slot[W]] = field(default_factory=list)

    @property
    def reserved_mb(self) -> int:
        return sum(slot.reserved_mb for slot in self.slots)

    def reservation_mb(self, memory_mb: int, tmp_mb: int) -> int:
        """What a worker for a job reserves; never more than the whole budget, so it fits."""
        return min(memory_mb + tmp_mb, self.limits.memory_budget_mb)

    def take_warm(self, key: FunctionKey) -> Slot[W] | None:
        """An idle worker already bound to ``key``, the most recently used one."""
        idle = [s for s in self.slots if s.ready and s.key == key and not s.retiring]
        if not idle:
            return None
        slot = max(idle, key=lambda s: s.idle_since)
        slot.busy = True
        return slot

    def take_prewarmed(
        self, key: FunctionKey, reserve_mb: int
    ) -> tuple[Slot[W], list[Slot[W]]] | None:
        """An unbound ready worker to bind to ``key``, and the idle slots ended to fit it."""
        slot = next((s for s in self.slots if s.ready and s.key is None), None)
        if slot is None:
            return None
        evicted = self._make_room(reserve_mb - slot.reserved_mb, new_slots=0, keep=slot)
        if evicted is None:
            return None
        slot.busy = True
        slot.key = key
        slot.reserved_mb = reserve_mb
        return slot, evicted

    def reserve(
        self, key: FunctionKey | None, reserve_mb: int
    ) -> tuple[Slot[W], list[Slot[W]]] | None:
        """A new slot for a process about to start, and the idle slots ended to fit it."""
        evicted = self._make_room(reserve_mb, new_slots=1)
        if evicted is None:
            return None
        slot: Slot[W] = Slot(reserved_mb=reserve_mb, key=key)
        self.slots.append(slot)
        return slot, evicted

    def started(self, slot: Slot[W], worker: W, now: float) -> None:
        """A pre-warmed slot's process is up: it waits, idle, for a job."""
        slot.worker = worker
        if slot.key is None:
            slot.busy = False
            slot.idle_since = now

    def release(self, slot: Slot[W], reusable: bool, now: float) -> bool:
        """A job is done with ``slot``. True: it stays, idle; False: it left the pool."""
        slot.runs += 1
        keep = reusable and not slot.retiring and slot.runs < self.limits.max_runs
        if not keep:
            self.drop(slot)
            return False
        slot.busy = False
        slot.idle_since = now
        return True

    def drop(self, slot: Slot[W]) -> None:
        if slot in self.slots:
            self.slots.remove(slot)

    def expired(self, now: float) -> list[Slot[W]]:
        """Bound workers idle for longer than the TTL, now out of the pool."""
        ttl = self.limits.idle_ttl_s
        old = [s for s in self.slots if s.ready and s.key is not None and now - s.idle_since > ttl]
        for slot in old:
            self.drop(slot)
        return old

    def forget(self, tenant: str, function: str) -> list[Slot[W]]:
        """Idle workers of every version of a function, now out; busy ones end on release."""
        ended = []
        for slot in list(self.slots):
            if slot.key is None or (slot.key.tenant, slot.key.function) != (tenant, function):
                continue
            if slot.busy:
                slot.retiring = True
            else:
                self.drop(slot)
                ended.append(slot)
        return ended

    def prewarm_wanted(self) -> int:
        """How many unbound workers to start now, in the room left without ending any."""
        unbound = sum(1 for s in self.slots if s.key is None)
        wanted = self.limits.prewarm - unbound
        room_slots = self.limits.workers_max - len(self.slots)
        room_mb = self.limits.memory_budget_mb - self.reserved_mb
        by_memory = room_mb // self.limits.prewarm_mb if self.limits.prewarm_mb > 0 else wanted
        return max(min(wanted, room_slots, by_memory), 0)

    def _make_room(
        self, need_mb: int, new_slots: int, keep: Slot[W] | None = None
    ) -> list[Slot[W]] | None:
        """Idle slots to end, least recently used bound ones first, then unbound ones.

        Returns None, ending nothing, when even ending every idle slot would not make room.
        """
        idle = [s for s in self.slots if s.ready and s is not keep]
        idle.sort(key=lambda s: (s.key is None, s.idle_since))
        count = len(self.slots) + new_slots
        reserved = self.reserved_mb + need_mb
        evicted: list[Slot[W]] = []
        for slot in idle:
            if count <= self.limits.workers_max and reserved <= self.limits.memory_budget_mb:
                break
            evicted.append(slot)
            count -= 1
            reserved -= slot.reserved_mb
        if count > self.limits.workers_max or reserved > self.limits.memory_budget_mb:
            return None
        for slot in evicted:
            self.drop(slot)
        return evicted
