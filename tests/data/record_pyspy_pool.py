"""Record the py-spy traces `tests/test_pyspy_trace.py` replays (run by hand, as a user allowed
to trace the target; about half a minute):

    .venv/bin/python tests/data/record_pyspy_pool.py [SECONDS]

It runs `bench/targets/asyncio_process_pool.py` (an asyncio parent feeding two forked pool
workers) and, once its pool is running, samples the process tree with two py-spy processes
started together, both with the flags concdiag gives py-spy: one writes the Chrome trace
concdiag reads back, the other the raw collapsed stacks, which are the stacks py-spy sampled
with no reconstruction involved. Long paths are shortened the same way in both, and both are
xz-compressed into this folder.

Not every run holds what made the old reader fail (a sample whose previous sample under the
same thread id came from another process and shares no frame name with this one, such as a
sibling worker caught with a short stack); the stored trace was kept from the second of two
runs, the first that did: read by frame name, its parent's main thread stacks the selector's
frames twice.
"""

from __future__ import annotations

import json
import lzma
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGET = ROOT / "bench" / "targets" / "asyncio_process_pool.py"
TRACE = HERE / "pool_asyncio.pyspy-trace.json.xz"
RAW = HERE / "pool_asyncio.pyspy-raw.txt.xz"
#: concdiag's py-spy flags (collectors/pyspy.py), at its default rate.
FLAGS = ["--rate", "100", "--idle", "--threads", "--nonblocking", "--full-filenames"]
PREFIXES = {
    sysconfig.get_paths()["stdlib"]: "/stdlib",
    sys.executable: "/venv/bin/python",
    str(ROOT): "/repo",
}


def shorten(text: str) -> str:
    for long, short in PREFIXES.items():
        text = text.replace(long, short)
    return text


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 22.0
    pyspy = str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory(prefix="concdiag-record-") as tmp:
        trace, raw = Path(tmp) / "trace.json", Path(tmp) / "raw.txt"
        target = subprocess.Popen([sys.executable, str(TARGET), str(seconds + 1.5)])
        time.sleep(1.5)  # past the imports: both samplers see the same steady run
        record = [pyspy, "record", "--pid", str(target.pid), "--subprocesses", *FLAGS]
        spies = [
            subprocess.Popen([*record, "--format", fmt, "--output", str(out)])
            for fmt, out in (("chrometrace", trace), ("raw", raw))
        ]
        target.wait()
        for spy in spies:
            spy.wait()
        events = json.loads(trace.read_text())
        for event in events:
            event["name"] = shorten(event["name"])
            event["args"]["filename"] = shorten(event["args"]["filename"])
        # py-spy's own layout (its key order, no spaces): the replay reads it as it reads py-spy's
        # preset 0 packs these repetitive traces smallest (636 kB against 809 kB at 9)
        with lzma.open(TRACE, "wt", preset=0) as out:
            out.write(json.dumps(events, separators=(",", ":")))
        with lzma.open(RAW, "wt", preset=6) as out:
            out.write(shorten(raw.read_text()))
    print(f"{len(events)} events; {TRACE.stat().st_size + RAW.stat().st_size} bytes compressed")


if __name__ == "__main__":
    main()
