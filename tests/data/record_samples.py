"""Record the runs `tests/test_sample_verdicts.py` replays (run by hand, as a user allowed to
trace the target; a few seconds per target):

    .venv/bin/python tests/data/record_samples.py [NAME...]

Each sample target (sample_targets/*.py with an "Expected verdict:" line), each bench
workload the end-to-end tests used to profile, and the in-process collector's cases are
profiled by the real `concdiag profile`, and the recording its analysis was handed is saved,
xz-compressed, as tests/data/samples/NAME.recording.json.xz. A recording whose verdict is not
the documented one is not kept: the script says so, and a later run records it again.
"""

from __future__ import annotations

import dataclasses
import json
import lzma
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = HERE / "samples"
SAMPLES = ROOT / "sample_targets"
WORKLOADS = ROOT / "bench" / "workloads"
_EXPECT = re.compile(r"Expected verdict:\s*bound=(\w+)\s+cpu_kind=(\w+)\s+recommendation=(\w+)")


def cases() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name -> (concdiag profile arguments, environment)."""
    out: dict[str, tuple[list[str], dict[str, str]]] = {}
    for script in sorted(SAMPLES.glob("*.py")):
        if "Expected verdict:" in script.read_text():
            options = ["--deadlock-after", "1"] if script.stem == "deadlock" else []
            out[script.stem] = ([*options, str(script)], {})
    for name in ("tiny_tasks", "big_args", "http_fetch", "asyncio_fetch", "locked_ledger"):
        out[f"workload-{name}"] = ([str(WORKLOADS / f"{name}.py")], {})
    for name in ("cpu_serial", "cpu_threads", "io_threads", "lock_bound"):
        out[f"inprocess-{name}"] = (
            [str(SAMPLES / f"{name}.py")],
            {"CONCDIAG_FORCE_INPROCESS": "1"},
        )
    return out


def record(name: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Profile in this process, keeping the recording and the chunks streamed to the analysis.

    A live run streams its ticks and stacks into the accounting instead of the recording;
    put back into it, they make the recording a replay reads (tests/test_streaming.py holds
    that both give the same profile).
    """
    import concdiag.session as session
    from concdiag.cli import main

    kept: list[Any] = []
    ticks: list[Any] = []
    stacks: dict[Any, list[Any]] = {}
    build, sink = session.build_profile, session.AccountingSink

    class KeepingSink(sink):  # type: ignore[misc, valid-type]
        def __call__(self, recording: Any, chunk: Any) -> None:
            ticks.extend(chunk.ticks)
            for key, changes in chunk.stacks.items():
                stacks.setdefault(key, []).extend(changes)
            super().__call__(recording, chunk)

    def keep(recording: Any, *a: Any, **kw: Any) -> Any:
        kept.append(recording)
        return build(recording, *a, **kw)

    session.build_profile, session.AccountingSink = keep, KeepingSink  # type: ignore[assignment, misc]
    os.environ.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        sys.argv = ["concdiag", "profile", "-q", "--json", f"{tmp}/p.json", "-o", f"{tmp}/p.html"]
        sys.argv += args
        try:
            main()
        except SystemExit:
            pass
        verdict = json.loads(Path(f"{tmp}/p.json").read_text())["verdict"]
    session.build_profile, session.AccountingSink = build, sink  # type: ignore[misc]
    for key in env:
        del os.environ[key]
    (recording,) = kept
    every_stack = {k: list(v) for k, v in stacks.items()}
    for key, changes in recording.stacks.items():
        every_stack.setdefault(key, []).extend(changes)
    whole = dataclasses.replace(recording, ticks=(*ticks, *recording.ticks), stacks=every_stack)
    path = OUT / f"{name}.recording.json.xz"
    text = json.dumps(whole.to_dict(), separators=(",", ":")) + "\n"
    with lzma.open(path, "wt", preset=9) as f:
        f.write(text)
    return verdict  # type: ignore[no-any-return]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    chosen = cases()
    for name in sys.argv[1:] or chosen:
        args, env = chosen[name]
        verdict = record(name, args, env)
        got = (verdict["bound"], verdict["cpu_kind"] or "none", verdict["recommendation"])
        print(name, got, verdict["confidence"], flush=True)


if __name__ == "__main__":
    main()
