"""The locks part of a profile: from the tracker's tables to the report, on synthetic runs.

The tables are what the lock tracker (``agent/locks/``) writes (its JSON layout); the sampled
threads come from `helpers.synthetic`. Checked: names and lines, the advice for what the
critical section does, the verdict that names the lock, a deadlock's verdict and exit code, an
attach stall, the schema, and every renderer with hostile names."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from click.testing import CliRunner

from concdiag.analysis.locks.report import lock_name, taken_as
from concdiag.cli import cli
from concdiag.model import Profile
from concdiag.recording.locks import LockTables
from concdiag.recording.recording import Recording
from concdiag.render.html import HtmlRenderer
from concdiag.render.markdown import MarkdownRenderer
from concdiag.render.text import summary_text
from helpers import PID, load_schema, profile_of, synthetic

SOURCE = """\
import threading, time


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()

    def record(self, value):
        with self.lock:
            time.sleep(0.02)
            self.total = value
"""
CREATED, TAKEN, INSIDE = 6, 9, 10  # lines of SOURCE


def tables(path: Path, **site: Any) -> dict[str, Any]:
    """The tracker's JSON for one lock created at CREATED and taken at TAKEN in ``path``."""
    at = [str(path), TAKEN, "Ledger.record"]
    entry = {
        "id": 0,
        "kind": "Lock",
        "inside": None,
        "file": str(path),
        "line": CREATED,
        "function": "Ledger.__init__",
        "instances": 1,
        "acquisitions": 96,
        "contended": 72,
        "waiting_now": 0,
        "wait_s": 1.5,
        "wait_max_s": 0.07,
        "wake_s": 0.01,
        "timed_holds": 72,
        "hold_s": 1.9,
        "hold_max_s": 0.021,
        "notify_waits": 0,
        "notify_wait_s": 0.0,
        "waiters": [
            [1, PID + 1, "worker-1", 36, 0.75, 0.07],
            [2, PID + 2, "worker-2", 36, 0.75, 0.06],
        ],
        "wait_sites": [[*at, 72, 1.5, 0.07]],
        "holder_sites": [[*at, 72, 1.5]],
        "hold_sites": [[*at, 72, 1.9, 0.021]],
    }
    entry.update(site)
    return {
        "format": "concdiag-locks",
        "version": 1,
        "pid": PID,
        "python": "3.11.7",
        "sample_every": 64,
        "deadlock_after_s": 3.0,
        "duration_s": 2.0,
        "sites_total": 3,
        "sites": [entry],
        "deadlock": None,
    }


def lock_bound_recording(path: Path, holder_state: str = "I") -> Recording:
    """Two workers: one holds the lock (inside the with block), the other waits for it."""
    inside = (("record", str(path), INSIDE),)
    waiting = (("record", str(path), TAKEN),)
    return synthetic(
        {PID: ["L"], PID + 1: [holder_state, "L"], PID + 2: ["L", holder_state]},
        stacks={PID + 1: inside, PID + 2: waiting},
    )


def test_names_and_lock_expressions_come_from_the_source() -> None:
    assert lock_name("        self.lock = threading.Lock()", "Ledger.__init__") == "Ledger.lock"
    assert lock_name("q = queue.Queue()", "<module>") == "q"
    assert lock_name("threading.Thread(target=run).start()", "main") is None
    assert taken_as("        with target.lock:  # note") == "target.lock"
    assert taken_as("    self.lock.acquire()") == "self.lock"


def test_a_lock_bound_run_names_the_lock_its_critical_section_and_what_to_change(
    tmp_path: Path,
) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    rec = lock_bound_recording(source)
    rec.locks = LockTables.from_dict(tables(source))
    profile = profile_of(rec)
    assert profile.locks is not None
    (lock,) = profile.locks.locks
    assert (lock.name, lock.created_at.line, lock.code) == (
        "Ledger.lock",
        CREATED,
        "self.lock = threading.Lock()",
    )
    (section,) = lock.critical_sections
    assert (section.at.line, section.end_line) == (TAKEN, INSIDE + 1)
    assert section.states.get("io", 0) > 0  # the holder waits on I/O inside the with block
    assert lock.advice_kind == "move_blocking_call"
    v = profile.verdict
    assert (v.bound, v.recommendation) == ("sync", "serial")
    reason = next(r for r in v.reasons if r.rule == "contended_lock")
    assert reason.figures["lock"] == "Ledger.lock (ledger.py:6)"
    assert reason.figures["critical_section"] == f"{source}:{TAKEN}"
    assert "ledger.py:9" in v.summary and "own resource" in v.summary
    # every waiter's sampled sync seconds sit beside its exact waits
    assert [w.sync_s for w in lock.waiters] == [1.0, 1.0]


def test_advice_follows_what_the_critical_section_does(tmp_path: Path) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    computing = lock_bound_recording(source, holder_state="N")
    computing.locks = LockTables.from_dict(tables(source))
    assert profile_of(computing).locks.locks[0].advice_kind == "own_resource"  # type: ignore[union-attr]
    hot = lock_bound_recording(source, holder_state="H")
    hot.locks = LockTables.from_dict(tables(source, acquisitions=5000, hold_s=0.5))
    assert profile_of(hot).locks.locks[0].advice_kind == "take_less_often"  # type: ignore[union-attr]
    long = lock_bound_recording(source, holder_state="H")
    long.locks = LockTables.from_dict(tables(source))
    assert profile_of(long).locks.locks[0].advice_kind == "shorten_or_split"  # type: ignore[union-attr]


def deadlock_tables(path: Path) -> dict[str, Any]:
    data = tables(path, contended=2, waiting_now=2, wait_s=2.0)
    thread = {"ident": 1, "native_id": PID + 1, "name": "one"}
    other = {"ident": 2, "native_id": PID + 2, "name": "two"}
    lock = {"file": str(path), "line": CREATED}
    data["deadlock"] = {
        "cycle": [
            {
                "thread": thread,
                "lock": {**lock, "instance": 11},
                "waiting_at": [str(path), INSIDE, "transfer"],
                "waiting_s": 1.0,
                "held_by": other,
                "held_since": [str(path), TAKEN, "transfer"],
            },
            {
                "thread": other,
                "lock": {**lock, "instance": 22},
                "waiting_at": [str(path), INSIDE, "transfer"],
                "waiting_s": 1.0,
                "held_by": thread,
                "held_since": [str(path), TAKEN, "transfer"],
            },
        ],
        "formed_s": 0.2,
        "detected_s": 1.2,
        "deadlock_after_s": 1.0,
        "stacks": [
            {
                **thread,
                "frames": [
                    [str(path), INSIDE, "transfer"],
                    ["/x/concdiag/collectors/_lock_tracker.py", 120, "_contended"],
                ],
            },
            {**other, "frames": [[str(path), INSIDE, "transfer"]]},
        ],
    }
    return data


def test_a_deadlock_is_the_verdict_with_both_locks_threads_and_lines(tmp_path: Path) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    rec = synthetic({PID: ["L"], PID + 1: ["L"], PID + 2: ["L"]})
    rec.locks = LockTables.from_dict(deadlock_tables(source))
    profile = profile_of(rec)
    v = profile.verdict
    assert (v.bound, v.recommendation, v.cpu_kind, v.confidence) == (
        "deadlock",
        "none",
        None,
        0.95,
    )
    assert v.reasons[0].rule == "deadlock"
    deadlock = profile.locks.deadlock  # type: ignore[union-attr]
    assert deadlock is not None and deadlock.confirmed
    one, two = deadlock.cycle
    assert (one.thread, one.held_by, one.waiting_at.line, one.held_since.line) == (  # type: ignore[union-attr]
        "one",
        "two",
        INSIDE,
        TAKEN,
    )
    assert one.lock == "Ledger.lock #1 (ledger.py:6)" and two.lock == "Ledger.lock #2 (ledger.py:6)"
    assert one.held_code == "with self.lock:"
    assert "one waits at ledger.py:10" in deadlock.message
    # concdiag's own frames are not part of the user's stack
    assert [f.function for f in deadlock.stacks[0].frames] == ["transfer"]
    text = summary_text(profile, [])
    assert text.startswith("concdiag: deadlock -> no model until the deadlock is fixed")
    why = text.splitlines()[1]
    assert why.startswith("  why: one waits at ledger.py:10") and "two waits at" in why
    assert "  change: Take the locks in one order everywhere" in text
    verbose = summary_text(profile, [], verbose=True)
    assert "one waits at ledger.py:10 for Ledger.lock #1 (ledger.py:6)" in verbose


def test_profiles_with_locks_match_the_schema_and_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(SOURCE)
    for data in (tables(source), deadlock_tables(source)):
        rec = lock_bound_recording(source)
        rec.locks = LockTables.from_dict(data)
        profile = profile_of(rec)
        document = json.loads(profile.to_json())
        jsonschema.validate(document, load_schema())
        assert Profile.from_dict(document).to_dict() == Profile.from_dict(document).to_dict()
        assert json.loads(Profile.from_dict(document).to_json()) == document
        # the recording keeps the tables (a raw save when the analysis fails)
        assert Recording.from_dict(rec.freeze().to_dict()).locks == rec.locks


def test_a_profile_without_locks_still_validates(tmp_path: Path) -> None:
    document = profile_of(synthetic({PID: ["H"]})).to_dict()
    del document["locks"]  # written before the field existed
    jsonschema.validate(document, load_schema())
    assert Profile.from_dict(document).locks is None


HOSTILE = "<script>alert(1)</script>\"'&amp;"


def test_every_renderer_escapes_hostile_lock_and_thread_names(tmp_path: Path) -> None:
    source = tmp_path / "ledger.py"
    source.write_text(
        SOURCE.replace("self.lock =", f"self.{'x'} =  # {HOSTILE}\n        self.lock =")
    )
    data = deadlock_tables(source)
    for edge in data["deadlock"]["cycle"]:
        edge["thread"]["name"] = HOSTILE
    data["sites"][0]["waiters"][0][2] = HOSTILE
    rec = lock_bound_recording(source)
    rec.locks = LockTables.from_dict(data)
    profile = profile_of(rec)
    html = HtmlRenderer().render(profile)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(re.findall(r"<script\b", html)) == 2  # only the report's own
    assert 'id="locks"' in html and 'data-testid="deadlock"' in html
    md = MarkdownRenderer().render(profile)
    assert "<script>" not in md and "**Deadlock**" in md


def test_attach_on_stuck_threads_reports_a_likely_deadlock() -> None:
    from concdiag.analysis import replay_profile
    from helpers import context

    stuck = (("transfer", "/app/bank.py", 33),)
    joined = (("main", "/app/bank.py", 50), ("join", "/usr/lib/python3.11/threading.py", 1119))
    rec = synthetic(
        {PID: ["L"], PID + 1: ["L"], PID + 2: ["L"]},
        ticks=500,
        stacks={PID: joined, PID + 1: stuck, PID + 2: stuck},
    )
    ctx = dataclasses.replace(context(), mode="attach", deadlock_after_s=3.0)
    profile = replay_profile(rec, ctx)
    assert profile.verdict.bound == "deadlock"
    assert profile.verdict.confidence == 0.6
    deadlock = profile.locks.deadlock  # type: ignore[union-attr]
    assert deadlock is not None and not deadlock.confirmed
    assert deadlock.message.startswith("Every thread blocked on locks with no progress for 5.0 s")
    assert f"worker-{PID + 1} waits at bank.py:33" in deadlock.message
    # threads that only wait for each other (a pool waiting for work) are no deadlock
    idle = synthetic({PID: ["L"], PID + 1: ["L"]}, ticks=500, stacks={PID: joined, PID + 1: joined})
    assert replay_profile(idle, ctx).locks is None
    # a thread that runs is progress
    busy = synthetic({PID: ["L"], PID + 1: ["H"]}, ticks=500, stacks={PID: stuck, PID + 1: stuck})
    assert replay_profile(busy, ctx).locks is None


def test_deadlock_after_must_be_positive() -> None:
    result = CliRunner().invoke(cli, ["profile", "--deadlock-after", "0", "x.py"])
    assert result.exit_code == 2
    assert "--deadlock-after" in result.output
