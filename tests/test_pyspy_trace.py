"""py-spy's Chrome trace read back into stacks: exactly the stacks py-spy sampled.

The recorded trace (`tests/data/record_pyspy_pool.py`) is 23 s of an asyncio parent feeding
two forked pool workers, which share the parent's main-thread pthread id; a second py-spy,
started with it, wrote the raw stacks it sampled. Read by frame name, this trace gave the
parent's main thread stacks with the selector's frames twice over.
"""

from __future__ import annotations

import io
import json
import lzma
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from concdiag.collectors.pyspy_trace import TraceReplay, iter_trace_blocks
from concdiag.recording.records import StackChange

DATA = Path(__file__).parent / "data"
Frame = tuple[str, str, int]
Key = tuple[int, int]

_RAW_FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")
_RAW_PROCESS = re.compile(r"^process (\d+):")
_RAW_THREAD = re.compile(r"^thread \((\d+)\)")


def _sampled_stacks() -> dict[Key, set[tuple[Frame, ...]]]:
    """The raw py-spy's stacks, per (pid, OS tid), without its process and thread frames."""
    stacks: dict[Key, set[tuple[Frame, ...]]] = defaultdict(set)
    with lzma.open(DATA / "pool_asyncio.pyspy-raw.txt.xz", "rt") as raw:
        for line in raw:
            collapsed = line.rstrip("\n").rpartition(" ")[0]
            pid = tid = 0
            frames: list[Frame] = []
            for part in collapsed.split(";"):
                if match := _RAW_PROCESS.match(part):
                    pid = int(match.group(1))  # the innermost process frame is the sampled one
                elif match := _RAW_THREAD.match(part):
                    tid = int(match.group(1))
                else:
                    frame = _RAW_FRAME.match(part)
                    assert frame, part
                    frames.append((frame.group(1), frame.group(2), int(frame.group(3))))
            stacks[(pid, tid)].add(tuple(frames))
    return stacks


def _repeated(stack: Sequence[Frame]) -> set[tuple[Frame, ...]]:
    """Every frame sequence that occurs more than once in ``stack``."""
    found: set[tuple[Frame, ...]] = set()
    for length in range(1, len(stack)):
        seen: set[tuple[Frame, ...]] = set()
        for i in range(len(stack) - length + 1):
            part = tuple(stack[i : i + length])
            if part in seen:
                found.add(part)
            seen.add(part)
    return found


@pytest.fixture(scope="module")
def recorded() -> tuple[list[dict[str, Any]], dict[Key, list[StackChange]]]:
    with lzma.open(DATA / "pool_asyncio.pyspy-trace.json.xz", "rt") as trace:
        text = trace.read()
    replay = TraceReplay(0, 0.0, {})
    for block in iter_trace_blocks(io.StringIO(text)):
        replay.feed(block)
    return json.loads(text), replay.finish()


def test_the_recording_is_a_long_multiprocess_run_with_shared_thread_ids(recorded) -> None:  # type: ignore[no-untyped-def]
    events, _ = recorded
    pids_by_thread: dict[int, set[int]] = defaultdict(set)
    for event in events:
        pids_by_thread[event["tid"]].add(event["pid"])
    assert max(len(pids) for pids in pids_by_thread.values()) == 3  # parent and both workers
    assert (events[-1]["ts"] - events[0]["ts"]) / 1e6 >= 20


def test_replayed_stacks_are_no_deeper_and_repeat_nothing_py_spy_did_not_sample(recorded) -> None:  # type: ignore[no-untyped-def]
    _, changes = recorded
    sampled = _sampled_stacks()
    assert set(changes) == set(sampled)  # the same processes and threads
    repeats_sampled = set().union(*(_repeated(s) for stacks in sampled.values() for s in stacks))
    for key, series in changes.items():
        deepest = max(len(s) for s in sampled[key])
        for change in series:
            assert len(change.frames) <= deepest, (key, change)
            assert _repeated(change.frames) <= repeats_sampled, (key, change)


def test_the_parent_never_gets_a_worker_frame(recorded) -> None:  # type: ignore[no-untyped-def]
    _, changes = recorded
    root = min(pid for pid, _ in changes)  # the parent started first
    parent_main = changes[(root, root)]
    assert parent_main[0].frames[-1][0] == "EpollSelector.select"
    for change in parent_main:
        assert all(frame[0] not in ("_process_worker", "task") for frame in change.frames)


# -- py-spy's writing, emulated: the replay must give back exactly what was sampled ---------


def _event(phase: str, pid: int, thread: int, ts: int, frame: Frame) -> dict[str, Any]:
    return {
        "args": {"filename": frame[1], "line": frame[2]},
        "cat": "py-spy",
        "name": frame[0],
        "ph": phase,
        "pid": pid,
        "tid": thread,
        "ts": ts,
    }


def _as_pyspy_writes(
    samples: list[tuple[int, int, int, list[Frame]]],
) -> list[dict[str, Any]]:
    """Events as py-spy's chrometrace.rs writes them: the previous stack is kept per thread id
    (not per process); each sample ends the frames that left (innermost first) and begins
    the new ones (outermost first); at the end every thread id's last stack is ended."""
    previous: dict[int, tuple[int, list[Frame]]] = {}
    events: list[dict[str, Any]] = []
    for ts, pid, thread, stack in samples:
        old = previous.pop(thread, (pid, []))[1]
        common = 0
        while common < min(len(old), len(stack)) and old[common] == stack[common]:
            common += 1
        events += [_event("E", pid, thread, ts, f) for f in reversed(old[common:])]
        events += [_event("B", pid, thread, ts, f) for f in stack[common:]]
        previous[thread] = (pid, stack)
    end = samples[-1][0] + 1
    for thread, (pid, stack) in previous.items():
        events += [_event("E", pid, thread, end, f) for f in reversed(stack)]
    return events


def test_replay_gives_back_each_sampled_stack_when_processes_share_thread_ids() -> None:
    rng = random.Random(11)
    names = ["<module>", "run", "main", "work", "select", "recv", "_send", "task"]
    # the parent and two forked workers: one pthread id for their main threads, plus a thread
    # of the parent's whose id is reused by a later thread
    threads = {(100, 7): 100, (101, 7): 101, (102, 7): 102, (100, 9): 103}
    samples: list[tuple[int, int, int, list[Frame]]] = []
    expected: dict[Key, list[StackChange]] = defaultdict(list)
    ts = 0
    last_ts: dict[tuple[int, int], int] = {}
    for _ in range(3000):
        (pid, thread), os_tid = rng.choice(sorted(threads.items()))
        if rng.random() < 0.01 and thread == 9:
            os_tid = threads[(pid, thread)] = os_tid + 1  # a new thread with the same id
        ts += rng.choice([0, 0, 1, 7])  # equal timestamps happen within one sampling pass
        if last_ts.get((pid, thread)) == ts:
            ts += 1  # but py-spy samples a thread once per pass
        last_ts[(pid, thread)] = ts
        user = [(rng.choice(names), f"/src/m{pid}.py", rng.randint(1, 3))]
        user += [(rng.choice(names), "/src/lib.py", 1) for _ in range(rng.randint(0, 6))]
        roots = [("process 100:python app.py", "", 0)]
        if pid != 100:
            roots.append((f"process {pid}:python app.py", "", 0))
        roots.append((f"thread ({os_tid}): MainThread", "", 0))
        samples.append((ts, pid, thread, roots + user))
        series = expected[(pid, os_tid)]
        if not series or series[-1].frames != tuple(user):
            series.append(StackChange(ts / 1e6, tuple(user)))
    # py-spy ending every stack when it stops is not a sample: threads keep their last stack
    events = _as_pyspy_writes(samples)
    replay = TraceReplay(100, 0.0, {})
    replay.feed(events)
    assert replay.finish() == dict(expected)


def test_hex_thread_ids_map_to_os_ids_and_names_are_kept() -> None:
    frames = [("process 5:py", "", 0), ("thread (0x7f00): worker", "", 0), ("f", "/a.py", 3)]
    replay = TraceReplay(5, 2.0, {0x7F00: 51})
    replay.feed(_as_pyspy_writes([(1_000_000, 5, 0x7F00, frames)]))
    assert replay.finish() == {(5, 51): [StackChange(3.0, (("f", "/a.py", 3),))]}
    named = [("process 5:py", "", 0), ("thread (52): reader", "", 0), ("g", "/b.py", 1)]
    replay = TraceReplay(5, 0.0, {})
    replay.feed(_as_pyspy_writes([(0, 5, 1, named)]))
    replay.finish()
    assert replay.thread_names == {52: "reader"}


# -- reading the file in blocks --------------------------------------------------------------


def _trace_text(count: int) -> tuple[str, list[dict[str, Any]]]:
    events = [
        _event("B" if i % 3 else "E", 1, 2, i, (f"f{i}" + ' "},{"args":', "/x.py", i))
        for i in range(count)
    ]
    return json.dumps(events, separators=(",", ":")), events


@pytest.mark.parametrize("block_chars", [7, 64, 1000, 1 << 20])
def test_blocks_give_every_event_in_order(block_chars: int) -> None:
    text, events = _trace_text(200)
    blocks = list(iter_trace_blocks(io.StringIO(text), block_chars))
    assert [e for block in blocks for e in block] == events


def test_another_layout_is_read_event_by_event() -> None:
    _, events = _trace_text(50)
    pretty = json.dumps(events, indent=2, sort_keys=True)  # "args" no longer starts each event
    blocks = list(iter_trace_blocks(io.StringIO(pretty), 100))
    assert [e for block in blocks for e in block] == events
    assert [e for block in iter_trace_blocks(io.StringIO("[]")) for e in block] == []


@pytest.mark.parametrize("text", ["", '[{"args":{}', '[{"args":{"filename":"a"}},{"ar'])
def test_a_cut_short_trace_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        for _ in iter_trace_blocks(io.StringIO(text), 8):
            pass
