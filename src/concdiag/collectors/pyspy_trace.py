"""py-spy's Chrome trace read back into each thread's stack over time.

py-spy (``src/chrometrace.rs``) writes one sample of one thread as "E" events for the frames
of that thread's previous sample that are gone (innermost first), then "B" events for the new
ones (outermost first), all at one timestamp and with the sampled process's pid. It keeps
that "previous sample" per thread id (the pthread id), *not* per process. A forked child's
threads keep the pthread ids they had in the parent (a process pool's workers share the
parent's main-thread id), so under ``--subprocesses`` one thread id's events are differences
against whichever process was sampled last under that id. `TraceReplay` replays them the way
they were written: one stack per thread id, one frame popped per "E" and one pushed per "B",
whatever their names. Each sample's stack is then exactly the one py-spy sampled, filed under
its pid and the OS thread its ``thread (...)`` root frame names.

(Matching "E" events by name against a per-process stack, as this module's predecessor did,
kept another process's frames and stacked every later sample on top of them: stacks hundreds
of frames deep, and a parse that grew with the square of the run.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from concdiag.recording.records import StackChange

# py-spy names the OS thread id, or the pthread id in hex when it cannot find the OS id.
_THREAD_FRAME = re.compile(r"^thread \((0[xX][0-9A-Fa-f]+|\d+)\)(?::\s?(.*))?$")
_PROCESS_FRAME = re.compile(r"^process (\d+):")
#: Where one py-spy event ends and the next begins: cannot occur inside a JSON string,
#: where every quote is escaped.
_EVENT_CUT = '},{"args":'
_BETWEEN_EVENTS = frozenset(" \t\r\n,")

Frame = tuple[str, str, int]  # function, file, line
Stacks = dict[tuple[int, int], list[StackChange]]


def iter_trace_blocks(
    source: Path | TextIO, block_chars: int = 1 << 20
) -> Iterator[list[dict[str, Any]]]:
    """The events of a Chrome trace (one JSON array), a block at a time, in order.

    A minute of a process tree is over 100 MB of trace, several times that decoded whole. py-spy
    writes its events as ``{"args":...}`` objects, so each block is cut before its last
    ``},{"args":`` and decoded in one call; a block without that cut (another layout) is decoded
    event by event. Raises ValueError when the file is not a complete JSON array of objects.
    """
    if isinstance(source, Path):
        with source.open(encoding="utf-8") as file:
            yield from iter_trace_blocks(file, block_chars)
        return
    decode = json.JSONDecoder().raw_decode
    buffer = source.read(block_chars)
    pos = buffer.index("[") + 1
    while True:
        cut = buffer.rfind(_EVENT_CUT, pos)
        if cut >= 0:
            yield json.loads("[" + buffer[pos : cut + 1] + "]")
            pos = cut + 2
        else:
            events: list[dict[str, Any]] = []
            while True:
                while pos < len(buffer) and buffer[pos] in _BETWEEN_EVENTS:
                    pos += 1
                if buffer.startswith("]", pos):
                    yield events
                    return
                try:
                    event, pos = decode(buffer, pos)
                except ValueError:
                    break  # the event runs past the block
                events.append(event)
            yield events
        more = source.read(block_chars)
        if not more and cut < 0:
            raise ValueError("the trace ends inside an event")
        buffer, pos = buffer[pos:] + more, 0


def _thread_id(text: str, ident_to_tid: dict[int, int]) -> int | None:
    if text.lower().startswith("0x"):
        return ident_to_tid.get(int(text, 16))
    return int(text)


def _is_synthetic(name: str, filename: str) -> bool:
    return not filename and (
        _THREAD_FRAME.match(name) is not None or _PROCESS_FRAME.match(name) is not None
    )


class TraceReplay:
    """Feed py-spy's events in order (in any number of calls), then `finish`; read `changes`.

    ``t_offset_s`` moves py-spy's clock onto the run's; ``ident_to_tid`` maps pthread ids to
    OS thread ids for the ``thread (0x...)`` frames py-spy writes when it cannot find the OS id.
    """

    def __init__(self, root_pid: int, t_offset_s: float, ident_to_tid: dict[int, int]) -> None:
        self.root_pid = root_pid
        self.t_offset_s = t_offset_s
        self.ident_to_tid = ident_to_tid
        #: (pid, OS tid) -> the thread's stack from each change on, outermost frame first.
        self.changes: Stacks = {}
        self.thread_names: dict[int, str] = {}
        self._stacks: dict[int, list[Frame]] = {}  # py-spy's previous sample, per thread id
        self._frames: dict[Frame, Frame] = {}  # one tuple per distinct frame
        self._sample: tuple[int, int, int] | None = None  # (thread id, pid, ts) being read
        self._began = False  # the sample being read has had a "B" event

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        # A sample is a run of events with one (thread id, pid, ts) in which no "E" follows
        # a "B". The hot loop: a minute of a process tree is about a million events.
        stacks, frames, root_pid = self._stacks, self._frames, self.root_pid
        sample, began = self._sample, self._began
        stack = stacks.setdefault(sample[0], []) if sample is not None else []
        for event in events:
            key = (event["tid"], event.get("pid", root_pid), event["ts"])
            ending = event["ph"] == "E"
            if key != sample or (ending and began):
                if sample is not None:
                    self._close(*sample)
                sample, began = key, False
                stack = stacks.setdefault(key[0], [])
            if ending:
                if stack:
                    stack.pop()
            elif event["ph"] == "B":
                args = event.get("args") or {}
                frame = (event["name"], args.get("filename") or "", args.get("line") or 0)
                stack.append(frames.setdefault(frame, frame))
                began = True
        self._sample, self._began = sample, began

    def finish(self) -> Stacks:
        """Close the last sample; the stacks of every thread."""
        if self._sample is not None:
            self._close(*self._sample)
            self._sample = None
        return self.changes

    def _close(self, thread: int, pid: int, ts_us: int) -> None:
        """The sample of ``thread`` in ``pid`` at ``ts_us`` is complete: record its stack.

        A stack left without its ``thread`` frame is py-spy closing every stack when it stops,
        not a sample: the thread keeps its last stack (py-spy runs in overlapping turns, and
        the next turn's samples may already have begun).
        """
        stack = self._stacks.get(thread, [])
        skip, os_tid = 0, None
        while skip < len(stack) and _is_synthetic(stack[skip][0], stack[skip][1]):
            match = _THREAD_FRAME.match(stack[skip][0])
            skip += 1
            if match:
                os_tid = _thread_id(match.group(1), self.ident_to_tid)
                if match.group(2) and match.group(1).isdigit():
                    self.thread_names[int(match.group(1))] = match.group(2)
                break
        if os_tid is None:
            return
        frames = tuple(stack[skip:])
        t_s = ts_us / 1e6 + self.t_offset_s
        series = self.changes.setdefault((pid, os_tid), [])
        if series and series[-1].frames == frames:
            return  # the same stack again (another process's sample came in between)
        if series and series[-1].t_s == t_s:
            series[-1] = StackChange(t_s, frames)
        else:
            series.append(StackChange(t_s, frames))
