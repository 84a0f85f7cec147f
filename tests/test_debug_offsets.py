"""The debug-offsets reader on synthetic process images of 3.13, 3.14, 3.15 and free-threaded
3.14, on the table of a real 3.13.0, and its one-line errors."""

from __future__ import annotations

import struct

import pytest

from concdiag.analysis.accounting.tick_clocks import REQUESTED
from concdiag.analysis.accounting.tick_states import classify
from concdiag.collectors.debug_offsets import DebugOffsetsError, parse, version_text
from concdiag.collectors.gil_layout import read_head
from concdiag.collectors.runtime_reader import RuntimeReader, read_thread_states
from concdiag.recording.recording import Recording, RecordingDraft
from concdiag.recording.records import ThreadObservation, Tick
from concdiag.recording.syscalls import X86_64
from helpers import target_info
from process_images import (
    GIL_AT,
    INTERP_AT,
    RUNTIME_AT,
    TSTATE_AT,
    TSTATE_SIZE,
    FakeThread,
    image,
    table,
    version_hex,
)

#: The table as a real CPython 3.13.0 (pyenv build, x86_64) has it: 3 runtime, 13
#: interpreter and 9 thread-state entries after cookie, version and free_threaded.
REAL_313 = (
    283320, 608, 632,
    194968, 7272, 7264, 7344, 7400, 7656, 7640, 7648, 16, 7752, 0, 7768, 7760,
    304, 0, 8, 16, 72, 152, 160, 232, 32,
)  # fmt: skip

THREADS = [FakeThread(4100, 0xAA00), FakeThread(4101, 0xAA01), FakeThread(4102, 0xAA02)]


def _reader(version: tuple[int, int], **options: object) -> RuntimeReader:
    memory = image(version, THREADS, **options)  # type: ignore[arg-type]
    return RuntimeReader.open(memory, RUNTIME_AT)


def test_the_real_313_table_reads_as_the_313_shape() -> None:
    raw = struct.pack("<8sQQ", b"xdebugpy", 0x030D00F0, 0)
    raw += struct.pack(f"<{len(REAL_313)}Q", *REAL_313) + bytes(200)
    offsets = parse(raw, expected_version=(3, 13), expected_free_threaded=False)
    assert offsets.version == "3.13.0"
    assert (offsets.gil_state, offsets.gil_holder, offsets.gil_locked) == (7752, 7760, 7768)
    assert (offsets.threads_head, offsets.tstate_native_thread_id) == (7344, 160)
    assert offsets.tstate_holds_gil is None and offsets.gil_enabled is None


@pytest.mark.parametrize("version", [(3, 13), (3, 14), (3, 15)])
def test_reader_finds_holder_lock_and_threads(version: tuple[int, int]) -> None:
    reader = _reader(version, holder=1)
    assert reader.offsets.major_minor == version
    assert reader.main_interpreter() == INTERP_AT
    gil = reader.gil()
    assert gil.enabled and gil.locked and gil.switch_number == 7
    assert gil.holder == TSTATE_AT + TSTATE_SIZE
    threads = reader.threads()
    assert [t.native_thread_id for t in threads] == [4100, 4101, 4102]
    assert [t.thread_id for t in threads] == [0xAA00, 0xAA01, 0xAA02]
    location = reader.gil_location("/usr/lib/libpython.so", INTERP_AT - 0x1000)
    assert location.address == INTERP_AT + GIL_AT
    assert location.interval_us == 5000 and location.offset == GIL_AT + 0x1000
    assert location.tstate_native_off == 160
    assert (location.threads is not None) == (version >= (3, 15))


def test_a_free_gil_has_no_holder_though_the_stored_one_is_stale() -> None:
    gil = _reader((3, 14), holder=None).gil()
    assert not gil.locked and gil.holder == 0


def test_315_per_thread_flags() -> None:
    threads = [
        FakeThread(4100, 1, holds_gil=True),
        FakeThread(4101, 2, gil_requested=True),
        FakeThread(4102, 3, holds_gil=True, gil_requested=True),  # both, briefly
        FakeThread(4103, 4),
    ]
    memory = image((3, 15), threads, holder=0)
    reader = RuntimeReader.open(memory, RUNTIME_AT)
    views = read_thread_states(memory, INTERP_AT, reader.thread_walk)
    assert [(v.holds_gil, v.gil_requested) for v in views] == [
        (True, False),
        (False, True),
        (True, True),
        (False, False),
    ]
    assert all(v.holds_gil is None for v in _reader((3, 14), holder=0).threads())
    tick = Tick(0.0, 1, True, 4100, 1, 0, ())

    def state(proc_state: str, holds: bool, requested: bool) -> str:
        obs = ThreadObservation(1, proc_state, None, False, 0, holds, requested)
        return classify(obs, tick, True, X86_64)

    assert state("R", True, False) == "gil_held"
    assert state("R", True, True) == "gil_held"  # holding wins, as in CPython's sampler
    # runnable and requesting: taking the GIL or queued for a CPU, which the on-CPU rule
    # decides from the thread's clocks (test_clocks); blocked and requesting: a GIL wait
    assert state("R", False, True) == REQUESTED
    assert state("S", False, True) == "gil_wait"
    assert state("R", False, False) == "native"


def test_free_threaded_314_layout() -> None:
    reader = _reader((3, 14), holder=2, free_threaded=True, gil_on=False)
    assert reader.offsets.free_threaded and reader.offsets.gil_enabled == 0
    gil = reader.gil()
    assert not gil.enabled and gil.locked and gil.holder == TSTATE_AT + 2 * TSTATE_SIZE
    location = reader.gil_location(None, None)
    head = read_head(
        image((3, 14), THREADS, holder=2, free_threaded=True).read(location.address, 48),
        0,
        location.fields,
    )
    assert head.interval_us == 5000 and head.locked == 1  # shifted by ``int enabled``
    assert _reader((3, 14), holder=0, free_threaded=True, gil_on=True).gil().enabled


@pytest.mark.parametrize(
    ("options", "expected", "message"),
    [
        ({"cookie": b"notdebug"}, {}, "no debug offsets at _PyRuntime: cookie b'notdebug'"),
        ({}, {"expected_version": (3, 14)}, "say Python 3.13.0, but the interpreter is 3.14"),
        (
            {},
            {"expected_free_threaded": True},
            "a default (GIL) build of Python 3.13.0, but the interpreter is a free-threaded",
        ),
        ({"hexversion": version_hex(3, 13, 0, 0xA, 2)}, {}, "3.13.0a2 is a pre-release"),
    ],
)
def test_mismatches_are_one_line(
    options: dict[str, object], expected: dict[str, object], message: str
) -> None:
    raw = table((3, 13), **options) + bytes(200)  # type: ignore[arg-type]
    with pytest.raises(DebugOffsetsError) as info:
        parse(raw, **expected)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unknown_version_and_a_misread_table_say_so() -> None:
    raw = table((3, 15), hexversion=version_hex(3, 16)) + bytes(200)
    with pytest.raises(DebugOffsetsError, match=r"knows the debug offsets of 3\.13 to 3\.15"):
        parse(raw)
    # a 3.14 table read as 3.13 (the version word lies): the shape check catches it
    raw = table((3, 14), hexversion=version_hex(3, 13)) + bytes(200)
    with pytest.raises(DebugOffsetsError, match="do not have the shape concdiag knows"):
        parse(raw)


def test_version_text() -> None:
    assert version_text(0x030E02F0) == "3.14.2"
    assert version_text(version_hex(3, 15, 0, 0xC, 1)) == "3.15.0rc1"


def test_recordings_carry_the_315_flags_only_where_read() -> None:
    draft = RecordingDraft(rate_hz=100.0, target=target_info())
    plain = ThreadObservation(1, "R", None, False, 3)
    flagged = ThreadObservation(2, "R", None, False, 4, False, True)
    data = draft.freeze([Tick(0.0, 1, True, 1, 0, 7, (plain, flagged))]).to_dict()
    assert [len(row) for row in data["ticks"][0][6]] == [5, 7]
    assert Recording.from_dict(data).ticks[0].threads == (plain, flagged)


@pytest.mark.parametrize(
    ("version", "free_threaded"), [((3, 14), False), ((3, 15), False), ((3, 14), True)]
)
def test_each_layout_gives_one_line_for_each_mismatch(
    version: tuple[int, int], free_threaded: bool
) -> None:
    name = f"{version[0]}.{version[1]}.0"
    cases = [
        ({"cookie": b"xdebugpX"}, {}, "no debug offsets at _PyRuntime: cookie b'xdebugpX'"),
        ({}, {"expected_version": (3, 13)}, f"say Python {name}, but the interpreter is 3.13"),
        ({}, {"expected_free_threaded": not free_threaded}, "free-threaded"),
    ]
    for options, expected, message in cases:
        raw = table(version, free_threaded=free_threaded, **options) + bytes(400)  # type: ignore[arg-type]
        with pytest.raises(DebugOffsetsError) as info:
            parse(raw, **expected)  # type: ignore[arg-type]
        assert message in str(info.value) and "\n" not in str(info.value)


def test_free_threaded_314_thread_list_and_holder() -> None:
    reader = _reader((3, 14), holder=1, free_threaded=True, gil_on=True)
    assert [t.native_thread_id for t in reader.threads()] == [4100, 4101, 4102]
    gil = reader.gil()
    assert gil.enabled and gil.locked and gil.holder == TSTATE_AT + TSTATE_SIZE
