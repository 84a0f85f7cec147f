"""CPython's own map of its internals: the ``_Py_DebugOffsets`` table (3.13 and later).

Since 3.13, ``_PyRuntime`` begins with a table an external reader can trust more than any
search: a cookie (``xdebugpy``), the interpreter's ``PY_VERSION_HEX``, whether the build is
free-threaded, then the offsets of the structures' fields (runtime state, interpreter state,
thread state...), every entry a ``uint64_t``. The table's *shape* (which entry is which)
changes between minor versions, so this module holds one shape per version, transcribed
field by field from CPython's headers (``Include/internal/pycore_debug_offsets.h``; in 3.13
``pycore_runtime.h``):

- 3.13: read from a real 3.13.0 interpreter here, and matching the 3.13 header;
- 3.14: the 3.14 header (``threads_main``, ``code_object_generation`` and
  ``tlbc_generation`` added to the interpreter state);
- 3.15: the development branch's header (thread state adds ``base_frame``,
  ``last_profiled_frame``, ``last_profiled_frame_seq``, ``holds_gil``, ``gil_requested``,
  ``current_exception``, ``exc_state``). 3.14 and 3.15 could not be run here: their shapes
  are checked only against synthetic process images.

It validates a table as CPython's own remote reader does (cookie, major.minor, the exact
version for a pre-release, the free-threaded flag) and, because it reads another version's
table, also checks that the table is self-consistent (a thread state starts with ``prev``,
``next`` and ``interp``; the GIL's ``last_holder`` and ``locked`` sit where
``struct _gil_runtime_state`` puts them). Every failure is one line naming what did not match.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

COOKIE = b"xdebugpy"
#: cookie, version, free_threaded: the fixed head of every version's table.
_HEAD = struct.Struct("<8sQQ")
_RUNTIME_FIELDS = ("size", "finalizing", "interpreters_head")

_INTERP_313 = (
    "size",
    "id",
    "next",
    "threads_head",
    "gc",
    "imports_modules",
    "sysdict",
    "builtins",
    "ceval_gil",
    "gil_runtime_state",
    "gil_runtime_state_enabled",
    "gil_runtime_state_locked",
    "gil_runtime_state_holder",
)
_INTERP_314 = (
    *_INTERP_313[:4],
    "threads_main",
    *_INTERP_313[4:],
    "code_object_generation",
    "tlbc_generation",
)
_THREAD_313 = (
    "size",
    "prev",
    "next",
    "interp",
    "current_frame",
    "thread_id",
    "native_thread_id",
    "datastack_chunk",
    "status",
)
_THREAD_315 = (
    "size",
    "prev",
    "next",
    "interp",
    "current_frame",
    "base_frame",
    "last_profiled_frame",
    "last_profiled_frame_seq",
    "thread_id",
    "native_thread_id",
    "datastack_chunk",
    "status",
    "holds_gil",
    "gil_requested",
    "current_exception",
    "exc_state",
)


@dataclass(frozen=True, slots=True)
class TableShape:
    """Which ``uint64_t`` of one minor version's table holds which offset."""

    version: tuple[int, int]
    interpreter_fields: tuple[str, ...]
    thread_fields: tuple[str, ...]
    run_here: bool  # True when an interpreter of this version was read on this project's machines

    def index(self, section: str, name: str) -> int | None:
        """Position (in uint64 entries after the fixed head) of ``section.name``, or None."""
        base = len(_RUNTIME_FIELDS)
        if section == "runtime_state":
            return _RUNTIME_FIELDS.index(name)
        if section == "interpreter_state":
            fields = self.interpreter_fields
        else:
            base += len(self.interpreter_fields)
            fields = self.thread_fields
        return base + fields.index(name) if name in fields else None

    @property
    def entries(self) -> int:
        return len(_RUNTIME_FIELDS) + len(self.interpreter_fields) + len(self.thread_fields)


SHAPES = {
    (3, 13): TableShape((3, 13), _INTERP_313, _THREAD_313, run_here=True),
    (3, 14): TableShape((3, 14), _INTERP_314, _THREAD_313, run_here=False),
    (3, 15): TableShape((3, 15), _INTERP_314, _THREAD_315, run_here=False),
}
FIRST, LAST = min(SHAPES), max(SHAPES)
#: Bytes of the table this reader needs: the head and the three sections it uses.
TABLE_BYTES = _HEAD.size + 8 * max(shape.entries for shape in SHAPES.values())
#: ``PY_VERSION_HEX``'s release level for a final release (0xA alpha, 0xB beta, 0xC candidate).
FINAL_RELEASE = 0xF


class DebugOffsetsError(Exception):
    """The table is missing or does not match what this reader knows; ``str()`` is one line."""


@dataclass(frozen=True, slots=True)
class DebugOffsets:
    """The offsets this reader uses, from one interpreter's table (bytes from each struct)."""

    version_hex: int
    free_threaded: bool
    interpreters_head: int  # in _PyRuntimeState: the first (main) interpreter's pointer
    interp_size: int
    threads_head: int  # in PyInterpreterState
    gil_state: int  # in PyInterpreterState: its own struct _gil_runtime_state
    gil_enabled: int | None  # in struct _gil_runtime_state (free-threaded builds only)
    gil_locked: int  # in PyInterpreterState
    gil_holder: int  # in PyInterpreterState
    tstate_size: int
    tstate_next: int
    tstate_thread_id: int
    tstate_native_thread_id: int
    tstate_holds_gil: int | None  # 3.15+
    tstate_gil_requested: int | None  # 3.15+

    @property
    def version(self) -> str:
        return version_text(self.version_hex)

    @property
    def major_minor(self) -> tuple[int, int]:
        return self.version_hex >> 24, (self.version_hex >> 16) & 0xFF


def version_text(version_hex: int) -> str:
    """``0x030D00F0`` -> ``3.13.0``; pre-releases keep their level (``3.15.0a2``)."""
    major, minor, micro = version_hex >> 24, (version_hex >> 16) & 0xFF, (version_hex >> 8) & 0xFF
    level, serial = (version_hex >> 4) & 0xF, version_hex & 0xF
    suffix = {0xA: "a", 0xB: "b", 0xC: "rc"}.get(level)
    return f"{major}.{minor}.{micro}" + (f"{suffix}{serial}" if suffix else "")


def parse(
    raw: bytes,
    *,
    expected_version: tuple[int, int] | None = None,
    expected_free_threaded: bool | None = None,
) -> DebugOffsets:
    """Validate and read the table at the start of ``raw`` (the first bytes of _PyRuntime).

    ``expected_version`` is what the interpreter's file name or ``Py_Version`` says, and
    ``expected_free_threaded`` what its name (``python3.14t``) or the bootstrap says; each
    must agree with the table, as CPython's own reader requires of the build it runs in.
    """
    if len(raw) < _HEAD.size:
        raise DebugOffsetsError("the runtime state is too short to hold debug offsets")
    cookie, version_hex, free_threaded = _HEAD.unpack_from(raw)
    if cookie != COOKIE:
        raise DebugOffsetsError(
            f"no debug offsets at _PyRuntime: cookie {cookie!r}, expected {COOKIE!r}"
        )
    text = version_text(version_hex)
    major_minor = (version_hex >> 24, (version_hex >> 16) & 0xFF)
    if expected_version is not None and major_minor != expected_version:
        raise DebugOffsetsError(
            f"debug offsets say Python {text}, but the interpreter is "
            f"{expected_version[0]}.{expected_version[1]}"
        )
    shape = SHAPES.get(major_minor)
    if shape is None:
        raise DebugOffsetsError(
            f"Python {text}: concdiag knows the debug offsets of "
            f"{FIRST[0]}.{FIRST[1]} to {LAST[0]}.{LAST[1]}"
        )
    if (version_hex >> 4) & 0xF != FINAL_RELEASE:
        # CPython's reader demands the exact version for pre-releases: their layouts move.
        raise DebugOffsetsError(
            f"Python {text} is a pre-release; concdiag reads the debug offsets of "
            f"{major_minor[0]}.{major_minor[1]} final releases only"
        )
    if free_threaded not in (0, 1):
        raise DebugOffsetsError(f"debug offsets: free_threaded is {free_threaded}, not 0 or 1")
    if expected_free_threaded is not None and bool(free_threaded) != expected_free_threaded:
        build = "free-threaded" if free_threaded else "default (GIL)"
        other = "free-threaded" if expected_free_threaded else "default (GIL)"
        raise DebugOffsetsError(
            f"debug offsets say a {build} build of Python {text}, but the interpreter is a "
            f"{other} build"
        )
    if len(raw) < _HEAD.size + 8 * shape.entries:
        raise DebugOffsetsError(f"the debug offsets of Python {text} are cut short")
    return _read(raw, shape, version_hex, bool(free_threaded))


def _read(raw: bytes, shape: TableShape, version_hex: int, free_threaded: bool) -> DebugOffsets:
    def entry(section: str, name: str) -> int | None:
        index = shape.index(section, name)
        if index is None:
            return None
        return int(struct.unpack_from("<Q", raw, _HEAD.size + 8 * index)[0])

    def need(section: str, name: str) -> int:
        value = entry(section, name)
        assert value is not None, f"{section}.{name} is in every shape"
        return value

    offsets = DebugOffsets(
        version_hex=version_hex,
        free_threaded=free_threaded,
        interpreters_head=need("runtime_state", "interpreters_head"),
        interp_size=need("interpreter_state", "size"),
        threads_head=need("interpreter_state", "threads_head"),
        gil_state=need("interpreter_state", "gil_runtime_state"),
        gil_enabled=entry("interpreter_state", "gil_runtime_state_enabled")
        if free_threaded
        else None,
        gil_locked=need("interpreter_state", "gil_runtime_state_locked"),
        gil_holder=need("interpreter_state", "gil_runtime_state_holder"),
        tstate_size=need("thread_state", "size"),
        tstate_next=need("thread_state", "next"),
        tstate_thread_id=need("thread_state", "thread_id"),
        tstate_native_thread_id=need("thread_state", "native_thread_id"),
        tstate_holds_gil=entry("thread_state", "holds_gil"),
        tstate_gil_requested=entry("thread_state", "gil_requested"),
    )
    _check_consistent(offsets, need("thread_state", "prev"), need("thread_state", "interp"))
    return offsets


def gil_holder_in_state(free_threaded: bool) -> int:
    """Where ``last_holder`` sits in ``struct _gil_runtime_state``.

    The struct starts ``unsigned long interval; PyThreadState *last_holder; int locked;``;
    a free-threaded build puts ``int enabled`` (padded to 8 bytes) before them.
    """
    return 16 if free_threaded else 8


def _check_consistent(offsets: DebugOffsets, prev: int, interp: int) -> None:
    """The table must describe the structs this reader assumes, or it was misread."""
    text = offsets.version
    if (prev, offsets.tstate_next, interp) != (0, 8, 16):
        raise DebugOffsetsError(
            f"the debug offsets of Python {text} do not have the shape concdiag knows: "
            f"thread state prev/next/interp at {prev}/{offsets.tstate_next}/{interp}, "
            "expected 0/8/16"
        )
    holder = offsets.gil_state + gil_holder_in_state(offsets.free_threaded)
    if (offsets.gil_holder, offsets.gil_locked) != (holder, holder + 8):
        raise DebugOffsetsError(
            f"the debug offsets of Python {text} place the GIL's holder and lock at "
            f"{offsets.gil_holder}/{offsets.gil_locked}, expected {holder}/{holder + 8}"
        )
    thread_fields = [offsets.tstate_thread_id, offsets.tstate_native_thread_id]
    thread_fields += [f for f in (offsets.tstate_holds_gil, offsets.tstate_gil_requested) if f]
    if not all(0 < field < offsets.tstate_size for field in thread_fields):
        raise DebugOffsetsError(
            f"the debug offsets of Python {text} place thread fields outside the thread "
            f"state ({offsets.tstate_size} bytes)"
        )
    if not 0 < offsets.gil_locked < offsets.interp_size:
        raise DebugOffsetsError(
            f"the debug offsets of Python {text} place the GIL outside the interpreter state"
        )
