"""pprof's profile format: a gzipped ``profile.proto`` message, as Go's pprof, Pyroscope and
Grafana read it.

Each sample is one of the profile's aggregated stacks (one thread, one state). Its values are
nanoseconds: the first column is wall time in every state, then one column per state that holds
the same figure when the sample is in that state and zero otherwise, so ``-sample_index=gil_wait``
shows only where threads waited for the GIL. Labels name the thread, its process and its state.

The message is written by the small encoder below rather than a protobuf runtime: pprof's
schema is six messages of varints, strings and packed integers, and the runtime would need
code generated from ``profile.proto`` checked in beside it. Go's own ``pprof`` reads the output
in CI (``.ci/pprof-check``).
"""

from __future__ import annotations

import gzip
import os.path

from concdiag.model import STATE_KEYS, Profile, recommendation_words
from concdiag.render.commands import process_label
from concdiag.render.views import StringTable, thread_names, trimmed_stacks

_NS = 1_000_000_000

# profile.proto's field numbers (github.com/google/pprof/proto/profile.proto)
_PROFILE_SAMPLE_TYPE = 1
_PROFILE_SAMPLE = 2
_PROFILE_LOCATION = 4
_PROFILE_FUNCTION = 5
_PROFILE_STRING_TABLE = 6
_PROFILE_DURATION_NANOS = 10
_PROFILE_PERIOD_TYPE = 11
_PROFILE_PERIOD = 12
_PROFILE_COMMENT = 13
_PROFILE_DEFAULT_SAMPLE_TYPE = 14
_VALUE_TYPE_TYPE = 1
_VALUE_TYPE_UNIT = 2
_SAMPLE_LOCATION_ID = 1
_SAMPLE_VALUE = 2
_SAMPLE_LABEL = 3
_LABEL_KEY = 1
_LABEL_STR = 2
_LABEL_NUM = 3
_LOCATION_ID = 1
_LOCATION_LINE = 4
_LINE_FUNCTION_ID = 1
_LINE_LINE = 2
_FUNCTION_ID = 1
_FUNCTION_NAME = 2
_FUNCTION_SYSTEM_NAME = 3
_FUNCTION_FILENAME = 4

_VARINT = 0
_LEN = 2


def _varint(value: int) -> bytes:
    if value < 0:  # int64 negatives take ten bytes, as two's complement
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int_field(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + _varint(value) if value else b""


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _key(number, _LEN) + _varint(len(payload)) + payload


def _packed(number: int, values: list[int]) -> bytes:
    return _bytes_field(number, b"".join(_varint(v) for v in values)) if values else b""


class PprofRenderer:
    extension = ".pb.gz"

    def render(self, profile: Profile) -> bytes:
        return gzip.compress(pprof_message(profile), mtime=0)


def sample_type_names() -> list[str]:
    """The value columns, in order: wall time, then one per thread state."""
    return ["wall", *STATE_KEYS]


def pprof_message(profile: Profile) -> bytes:
    strings = StringTable(("",))
    interval_ns = round(_NS / profile.run.rate_hz) if profile.run.rate_hz else 0
    names = thread_names(profile)
    commands = {p.pid: process_label(p.command) for p in profile.processes}
    out = bytearray()
    for name in sample_type_names():
        out += _bytes_field(_PROFILE_SAMPLE_TYPE, _value_type(strings, name, "nanoseconds"))
    functions: dict[int, int] = {}  # profile frame index -> function id (= location id)
    for stack in trimmed_stacks(profile):
        wall = stack.count * interval_ns
        values = [wall, *(wall if stack.state == k else 0 for k in STATE_KEYS)]
        for index in stack.frames:
            functions.setdefault(index, len(functions) + 1)
        leaf_first = [functions[i] for i in reversed(stack.frames)]
        labels = [
            _label(strings, "thread", names.get((stack.pid, stack.tid), f"thread-{stack.tid}")),
            _label(strings, "state", stack.state),
            _label(strings, "process", commands.get(stack.pid, "")),
            _num_label(strings, "pid", stack.pid),
            _num_label(strings, "tid", stack.tid),
        ]
        sample = _packed(_SAMPLE_LOCATION_ID, leaf_first) + _packed(_SAMPLE_VALUE, values)
        sample += b"".join(_bytes_field(_SAMPLE_LABEL, label) for label in labels)
        out += _bytes_field(_PROFILE_SAMPLE, sample)
    for index, ident in functions.items():
        frame = profile.frames[index]
        line_msg = _int_field(_LINE_FUNCTION_ID, ident) + _int_field(_LINE_LINE, frame.line)
        location = _int_field(_LOCATION_ID, ident) + _bytes_field(_LOCATION_LINE, line_msg)
        out += _bytes_field(_PROFILE_LOCATION, location)
        function = (
            _int_field(_FUNCTION_ID, ident)
            + _int_field(_FUNCTION_NAME, strings(shown_function(frame.function, frame.file)))
            + _int_field(_FUNCTION_SYSTEM_NAME, strings(frame.function))
            + _int_field(_FUNCTION_FILENAME, strings(frame.file))
        )
        out += _bytes_field(_PROFILE_FUNCTION, function)
    v = profile.verdict
    comment = strings(
        f"concdiag {profile.run.concdiag_version}: {v.bound}-bound, "
        f"{recommendation_words(v.recommendation)} (confidence {v.confidence:.2f})"
    )
    tail = _int_field(_PROFILE_DURATION_NANOS, round(profile.run.duration_s * _NS))
    tail += _bytes_field(_PROFILE_PERIOD_TYPE, _value_type(strings, "wall", "nanoseconds"))
    tail += _int_field(_PROFILE_PERIOD, interval_ns)
    tail += _packed(_PROFILE_COMMENT, [comment])
    # the default view is wall time; the string index of "wall" is the first sample type's
    tail += _int_field(_PROFILE_DEFAULT_SAMPLE_TYPE, strings("wall"))
    table = b"".join(_bytes_field(_PROFILE_STRING_TABLE, s.encode()) for s in strings.table)
    return bytes(out) + table + tail


def shown_function(function: str, file: str) -> str:
    """The function's name as pprof's views show it. pprof shortens names by dropping what
    sits between angle brackets (C++ template arguments), which turns Python's ``<module>``,
    ``<listcomp>`` and ``<lambda>`` into nothing; those become ``main.py:module``. The exact
    name stays in the function's system name (``pprof -raw``)."""
    if function.startswith("<") and function.endswith(">"):
        return f"{os.path.basename(file) or '?'}:{function[1:-1]}"
    return function


def _value_type(strings: StringTable, kind: str, unit: str) -> bytes:
    return _int_field(_VALUE_TYPE_TYPE, strings(kind)) + _int_field(_VALUE_TYPE_UNIT, strings(unit))


def _label(strings: StringTable, key: str, value: str) -> bytes:
    return _int_field(_LABEL_KEY, strings(key)) + _int_field(_LABEL_STR, strings(value))


def _num_label(strings: StringTable, key: str, value: int) -> bytes:
    return _int_field(_LABEL_KEY, strings(key)) + _int_field(_LABEL_NUM, value)
