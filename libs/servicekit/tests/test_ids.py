"""Time-ordered UUIDs: version 7, growing within a process, apart across forked processes."""

import os
import pickle
import time
import uuid

import pytest
from servicekit import ids


def test_a_uuid7_is_version_7_of_the_rfc_variant_and_starts_with_the_time():
    before = time.time_ns() // 1_000_000
    value = ids.uuid7()
    after = time.time_ns() // 1_000_000

    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7s_only_grow_within_a_process_even_within_one_millisecond():
    values = [ids.uuid7() for _ in range(20_000)]

    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert len({value.int >> 80 for value in values}) < len(values)  # several per millisecond
    assert [str(value) for value in values] == sorted(str(value) for value in values)


def test_a_clock_going_back_does_not_make_a_smaller_uuid7(monkeypatch):
    first = ids.uuid7()
    monkeypatch.setattr(ids.time, "time_ns", lambda: ((first.int >> 80) - 5_000) * 1_000_000)

    assert ids.uuid7() > first


def test_the_counter_carries_into_the_next_millisecond_when_full(monkeypatch):
    now = time.time_ns() // 1_000_000
    monkeypatch.setattr(ids, "_last", (now + 10, ids._COUNTER_LIMIT - 1))

    value = ids.uuid7()

    assert value.int >> 80 == now + 11
    assert value.version == 7


def test_forked_processes_do_not_repeat_each_others_uuid7s(monkeypatch):
    # The same millisecond everywhere: only the seed, drawn again in each child, sets them apart.
    later = time.time_ns() + 60 * 10**9
    monkeypatch.setattr(ids.time, "time_ns", lambda: later)
    readers = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.write(write, ids.uuid7().bytes)
            finally:
                os._exit(0)
        os.close(write)
        readers.append((pid, read))
    made = []
    for pid, read in readers:
        made.append(os.read(read, 16))
        os.close(read)
        os.waitpid(pid, 0)

    assert made[0] != made[1]
    assert ids.uuid7().bytes not in made


def test_a_batch_of_uuid7s_grows_and_follows_the_values_made_before():
    single = ids.uuid7()
    batch = ids.uuid7s(5_000)
    after = ids.uuid7()

    assert len(batch) == 5_000 == len(set(batch))
    assert [single, *batch, after] == sorted([single, *batch, after])
    assert {value.version for value in batch} == {7}
    assert {value.variant for value in batch} == {uuid.RFC_4122}
    assert ids.uuid7s(0) == []


def test_a_batch_that_would_fill_the_counter_starts_in_the_next_millisecond(monkeypatch):
    now = time.time_ns() // 1_000_000
    monkeypatch.setattr(ids, "_last", (now + 10, ids._COUNTER_LIMIT - 3))

    batch = ids.uuid7s(10)

    assert {value.int >> 80 for value in batch} == {now + 11}
    assert batch == sorted(batch) and len(set(batch)) == 10


def test_made_uuid7s_behave_as_the_uuids_the_standard_library_makes():
    made = [ids.uuid7(), *ids.uuid7s(3)]

    for value in made:
        twin = uuid.UUID(str(value))
        assert value == twin and hash(value) == hash(twin)
        assert (value.version, value.variant, value.is_safe) == (7, uuid.RFC_4122, twin.is_safe)
        assert pickle.loads(pickle.dumps(value)) == twin  # noqa: S301 - made here
        assert {value: 1}[twin] == 1 and value.hex == twin.hex and value.bytes == twin.bytes


def test_uuid7_hexes_are_the_text_of_uuid7s_drawn_after_the_ones_before():
    before = ids.uuid7()
    texts = ids.uuid7_hexes(1_000)
    after = ids.uuid7()

    made = [uuid.UUID(hex=text) for text in texts]
    assert texts == [value.hex for value in made]
    assert [before, *made, after] == sorted({before, *made, after})
    assert {value.version for value in made} == {7}
    assert ids.uuid7_hexes(0) == []


@pytest.mark.parametrize("low", [0, 12_345, (1 << 62) - 30, (1 << 62) - 10])
def test_uuid7s_and_their_hexes_spell_the_values_drawn_even_when_the_counter_carries(
    monkeypatch, low
):
    # The hex digits are written from one prefix and each value's low 64 bits, unless the
    # counter carries from its low 62 bits into the 12 above within the batch.
    ms, first = 1_764_000_000_000, (5 << 62) + low
    monkeypatch.setattr(ids, "_reserve", lambda count: (ms, first))

    texts = ids.uuid7_hexes(30)

    values = [uuid.UUID(hex=text) for text in texts]
    assert texts == [value.hex for value in values]
    assert [value.int for value in values] == ids._composed(ms, first, 30)
    assert values == sorted(values) and {value.version for value in values} == {7}
    # The UUIDs themselves, made from consecutive values unless the counter carries.
    assert ids.uuid7s(30) == values


def test_as_uuid_takes_a_uuid_or_its_text():
    value = ids.uuid7()

    assert ids.as_uuid(value) is value
    assert ids.as_uuid(value.hex) == value == ids.as_uuid(str(value))
