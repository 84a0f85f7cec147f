"""Retake the margins of the live figures the end-to-end tests assert (run by hand; about a
minute per case per 20 rounds):

    .venv/bin/python tests/e2e/measure_margins.py ROUNDS OUT.jsonl [NAME...]

Each round runs every case once (or those named), one at a time as the suite does, and
appends one JSON line per run: the verdict, its confidence and the figures its rules decided
on, or the figures a test asserts (whatif times, calibration slack, yappi tables, GIL
shares). A live test may assert a figure only where every one of at least 20 runs kept it
clear of its threshold; the test's comment keeps the runs, the load and the extremes seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_targets"
WORKLOADS = ROOT / "bench" / "workloads"
PYENV = Path("/root/.pyenv/versions")
TESTS = ROOT / "tests"
WHATIF = ("whatif:cpu_thread_pool", "check-confirm:io_process_pool")
CALIBRATION = ("gil_threads", "hash_beside_python", "socket_wait", "lock_serial")
#: Cases measured by a function of their own rather than one `concdiag profile`.
SPECIAL = (
    *WHATIF,
    *(f"calibration:{name}" for name in CALIBRATION),
    "deep:deep_mix",
    "deep:asyncio_awaits",
    *(f"attach{v}:spin_threads" for v in ("3.11", "3.12", "3.13")),
)
#: Options the suite profiles some targets with (tests/conftest.py SAMPLE_OPTIONS).
OPTIONS = {"deadlock": ("--deadlock-after", "1")}


def cases() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Name -> (concdiag profile arguments, extra environment)."""
    out: dict[str, tuple[list[str], dict[str, str]]] = {}
    for script in sorted(SAMPLES.glob("*.py")):
        if "Expected verdict:" in script.read_text():
            out[script.stem] = ([*OPTIONS.get(script.stem, ()), str(script)], {})
    for name in ("cpu_serial", "cpu_threads", "io_threads", "lock_bound"):
        out[f"inprocess:{name}"] = (
            [str(SAMPLES / f"{name}.py")],
            {"CONCDIAG_FORCE_INPROCESS": "1"},
        )
    out["inprocess:service_with_load"] = (
        [str(SAMPLES / "service_with_load.py"), "3"],
        {"CONCDIAG_FORCE_INPROCESS": "1"},
    )
    for name in ("tiny_tasks", "big_args", "http_fetch", "asyncio_fetch", "locked_ledger"):
        out[f"workload:{name}"] = ([str(WORKLOADS / f"{name}.py")], {})
    for version in ("3.10", "3.12", "3.13"):
        found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"))
        if found:
            script = str(SAMPLES / "cpu_threads.py")
            out[f"python{version}:cpu_threads"] = (["--python", str(found[-1]), script], {})
    return out


def calibration_row(name: str, folder: Path) -> dict[str, object]:
    """The slack left to each bound test_calibration asserts (negative: it failed)."""
    sys.path.insert(0, str(TESTS))
    from calibration import test_calibration as cal

    target = name.split(":", 1)[1]
    load_before = os.getloadavg()[0]
    truth, profile = cal.measure(target, folder)
    threads = {t["name"]: t for t in profile["processes"][0]["threads"]}
    share_slack, clock_slack, unknown_slack = [], [], []
    for thread_name, shares in truth["expected"].items():
        thread = threads[thread_name]
        measured = cal.observed_shares(thread)
        unknown_slack.append(
            cal.MAX_UNKNOWN - (thread["states"]["unknown"] - thread["starved_share"])
        )
        for state, share in shares.items():
            low, high = share if isinstance(share, list) else (share, share)
            value = measured[state]
            share_slack.append(min(value - (low - cal.TOLERANCE), high + cal.TOLERANCE - value))
        own = truth["clocks"][thread_name]["cpu_share"]
        clock_slack.append(cal.CLOCK_TOLERANCE - abs(thread["cpu_clock_share"] - own))
    check = profile["summary"]["clock_check"]
    return {
        "case": name,
        "load": round(load_before, 2),
        "share_slack_min": round(min(share_slack), 4),
        "clock_slack_min": round(min(clock_slack), 4),
        "unknown_slack_min": round(min(unknown_slack), 4),
        "clock_check_slack": round(
            max(check["warn_share"], check["error"]) - check["largest_disagreement"], 4
        ),
    }


def deep_row(name: str, folder: Path) -> dict[str, object]:
    """The yappi figures test_deep asserts, on the default interpreter."""
    target = name.split(":", 1)[1]
    json_path = folder / "d.json"
    load_before = os.getloadavg()[0]
    subprocess.run(
        [sys.executable, "-m", "concdiag", "profile", "-q", "--deep", "--json", str(json_path),
         "-o", str(folder / "d.html"), str(TESTS / "e2e" / "targets" / f"{target}.py")],
        capture_output=True, text=True, cwd=folder, timeout=300,
    )  # fmt: skip
    data = json.loads(json_path.read_text())

    def rows(thread: str) -> dict[str, dict[str, float]]:
        (t,) = [t for t in data["deep"]["threads"] if t["name"] == thread]
        return {f["function"]: f for f in t["functions"]}

    row: dict[str, object] = {"case": name, "load": round(load_before, 2)}
    if target == "deep_mix":
        compute, wait = rows("computer")["compute"], rows("sleeper")["wait_io"]
        row.update(
            compute_cpu_s=compute["cpu_s"],
            step_calls=rows("computer")["step"]["calls"],
            wait_cpu_s=wait["cpu_s"],
            wait_wall_s=wait["wall_s"],
            wait_behaviour=wait["behaviour"],
        )
    else:
        fetch = rows("MainThread")["slow_fetch"]
        row.update(awaiting_s=fetch["awaiting_s"], behaviour=fetch["behaviour"])
    return row


def attach_row(name: str, folder: Path) -> dict[str, object]:
    """test_debug_offsets_live's attach: each spinning thread's GIL-held and GIL-wait shares."""
    version = name.split(":", 1)[0].removeprefix("attach")
    (python, *_) = sorted(PYENV.glob(f"{version}.*/bin/python{version}"), reverse=True)
    spin = TESTS / "e2e" / "targets" / "spin_threads.py"
    target = subprocess.Popen([str(python), str(spin), "20"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while len(os.listdir(f"/proc/{target.pid}/task")) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        load_before = os.getloadavg()[0]
        subprocess.run(
            [sys.executable, "-m", "concdiag", "attach", str(target.pid), "-q", "--duration",
             "1.5", "--json", str(folder / "a.json"), "-o", str(folder / "a.html")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        target.kill()
        target.wait()
    data = json.loads((folder / "a.json").read_text())
    threads = [t for p in data["processes"] for t in p["threads"]]
    states = [t["states"] for t in threads if t["name"].startswith("spin-")]
    return {
        "case": name,
        "load": round(load_before, 2),
        "workers_gil": {
            "held_min": min(s["gil_held"] for s in states),
            "wait_min": min(s["gil_wait"] for s in states),
            "held_plus_wait_min": min(s["gil_held"] + s["gil_wait"] for s in states),
        },
    }


def whatif_row(name: str, folder: Path) -> dict[str, object]:
    """The whatif figures test_whatif asserts: each alternative's median and spread."""
    json_path, result = folder / "w.json", folder / "r.json"
    if name == "whatif:cpu_thread_pool":
        argv = ["whatif", "-q", "--workers", "asked", "--repeat", "2", "--json", str(json_path),
                "-o", str(folder / "w.html"), str(SAMPLES / "cpu_thread_pool.py")]  # fmt: skip
    else:
        (folder / "policy.toml").write_text("confirm_margin = 0.5\n")
        argv = ["check", "-q", "--confirm", "--policy", str(folder / "policy.toml"),
                "--reports-dir", str(folder / "reports"), "--result", str(result),
                str(SAMPLES / "io_process_pool.py")]  # fmt: skip
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-m", "concdiag", *argv],
        capture_output=True, text=True, cwd=folder, timeout=900,
    )  # fmt: skip
    row: dict[str, object] = {"case": name, "code": proc.returncode, "load": round(load_before, 2)}
    if result.exists():
        (target,) = json.loads(result.read_text())["targets"]
        row["findings"] = {f["rule"]: f["outcome"] for f in target["findings"]}
        json_path = Path(target["profiles"][0])
    data = json.loads(json_path.read_text())
    w = data["whatif"]
    row["outcome"] = w["outcome"]
    row["alternatives"] = [
        {
            "label": a["label"],
            "status": a["status"],
            "median_s": a["wall"]["median_s"] if a["wall"] else None,
            "margin_s": a["wall"]["margin_s"] if a["wall"] else None,
            "cores_used": a["cores_used"],
            "speedup": a["speedup"],
        }
        for a in w["alternatives"]
    ]
    return row


def measure(name: str, args: list[str], env: dict[str, str], folder: Path) -> dict[str, object]:
    json_path = folder / "p.json"
    json_path.unlink(missing_ok=True)
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "concdiag", "profile", "-q", "--json", str(json_path),
         "-o", str(folder / "p.html"), *args],
        capture_output=True, text=True, cwd=folder, env={**os.environ, **env}, timeout=300,
    )  # fmt: skip
    row: dict[str, object] = {
        "case": name,
        "code": proc.returncode,
        "wall_s": round(time.monotonic() - t0, 2),
        "load": round(load_before, 2),
    }
    if not json_path.exists():
        row["error"] = proc.stderr[-500:]
        return row
    data = json.loads(json_path.read_text())
    v = data["verdict"]
    row["verdict"] = [v["bound"], v["cpu_kind"], v["recommendation"]]
    row["model"] = v["current_model"]["kind"]
    row["confidence"] = v["confidence"]
    row["rules"] = {r["rule"]: r["figures"] for r in v["reasons"]}
    row["gil_wait_share"] = data["summary"]["gil_wait_share"]
    threads = [t for p in data["processes"] for t in p["threads"]]
    spin = [t["states"] for t in threads if t["name"].startswith(("spin-", "cpu-worker-"))]
    if spin:
        row["workers_gil"] = {
            "held_min": min(s["gil_held"] for s in spin),
            "wait_min": min(s["gil_wait"] for s in spin),
            "held_plus_wait_min": min(s["gil_held"] + s["gil_wait"] for s in spin),
        }
    row["cores_used_mean"] = data["summary"]["cores_used_mean"]
    return row


def main() -> None:
    rounds, out = int(sys.argv[1]), Path(sys.argv[2])
    chosen: dict[str, tuple[list[str], dict[str, str]] | None] = {**cases()}
    chosen.update(dict.fromkeys(SPECIAL))
    if sys.argv[3:]:
        chosen = {k: v for k, v in chosen.items() if k in sys.argv[3:]}
    with tempfile.TemporaryDirectory() as tmp, out.open("a") as sink:
        for i in range(rounds):
            for name, case in chosen.items():
                folder = Path(tempfile.mkdtemp(dir=tmp))
                if name.startswith("calibration:"):
                    row = calibration_row(name, folder)
                elif name.startswith("deep:"):
                    row = deep_row(name, folder)
                elif name.startswith("attach"):
                    row = attach_row(name, folder)
                elif case is None:
                    row = whatif_row(name, folder)
                else:
                    row = measure(name, *case, folder)
                row["round"] = i
                sink.write(json.dumps(row) + "\n")
                sink.flush()


if __name__ == "__main__":
    main()
