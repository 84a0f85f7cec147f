"""The profile's ``gil_blame`` part: who held the GIL while other threads waited for it, and
running what.

At every tick the sampler knows the GIL's holder; each thread found waiting for the GIL at
that tick is charged one tick of wait to the holder and to the line the holder's stack was at
then: the innermost frame outside the standard library (the program's own code, or the
library it called), or ``None`` when the holder had no Python stack (native code holding the
GIL, or a thread the sampler could not read).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class BlamedLine:
    """A line a GIL holder was at, and the wait it caused."""

    #: None: the holder had no Python stack the sampler had read (native code, or a thread
    #: too new or too short-lived for the stack sampler)
    function: str | None
    file: str | None
    line: int | None
    wait_s: float  # other threads' GIL wait while the holder was here
    waiters: int  # how many threads waited meanwhile
    holders: int  # how many threads held the GIL here


@dataclass(frozen=True, slots=True)
class BlamePair:
    """One waiting thread's GIL wait charged to one holding thread."""

    pid: int
    waiter_tid: int
    waiter: str
    holder_tid: int
    holder: str
    wait_s: float
    lines: list[BlamedLine] = field(default_factory=list)  # the holder's, most wait first


@dataclass(frozen=True, slots=True)
class GilBlame:
    waited_s: float  # every Python thread's GIL wait in the run
    attributed_s: float  # the part whose holder the sampler read
    pairs: list[BlamePair]  # most wait first
    lines: list[BlamedLine]  # every holder line, most wait caused first

    def top_line(self) -> BlamedLine | None:
        return self.lines[0] if self.lines else None
