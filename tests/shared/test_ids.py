from __future__ import annotations

import uuid

from shared.ids import is_id, new_id, new_ids


def test_ids_are_uuid7_and_sort_in_creation_order() -> None:
    ids = new_ids(20_000)  # more than 4096 in one millisecond: the counter rolls over
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids[:100])


def test_is_id_accepts_only_our_ids() -> None:
    assert is_id(new_id())
    assert not is_id(str(uuid.uuid4()))
    assert not is_id("not-an-id")
    assert not is_id(new_id().upper())
