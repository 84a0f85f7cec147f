"""The in-process collector's wire format: what the agent writes, the reader reads by name."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from concdiag.agent.inprocess import sampler as agent
from concdiag.agent.inprocess import wire
from concdiag.collectors.inprocess import read_inprocess
from concdiag.recording.recording import RecordingDraft
from concdiag.recording.records import TargetInfo

PID, TID, OTHER_TID = 4242, 4243, 4244
T0 = 1000.0


def _recording(pid: int = PID) -> RecordingDraft:
    target = TargetInfo(
        pid=pid,
        executable=sys.executable,
        version="3.11.7",
        implementation="CPython",
        gil_enabled=True,
        free_threaded_build=False,
        switch_interval_s=0.005,
        gil_found=False,
        main_tid=pid,
    )
    return RecordingDraft(rate_hz=100.0, target=target)


@pytest.fixture
def agent_output(tmp_path: Path) -> Iterator[Path]:
    """The agent's output file, open as `start` opens it, without starting a sampler."""
    path = tmp_path / "samples.jsonl"
    agent._STATE["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        yield path
    finally:
        os.close(agent._STATE["fd"])
        agent._STATE["fd"] = -1


def _every_kind() -> list[wire.AgentRecord]:
    """One record of each kind, built from the classes the agent writes with."""
    w = agent.wire
    window = w.SnapshotWindow(10e6, 0.3e6, True, True)
    busy = w.ThreadSample(TID, "R", None, False, 120, 9_000_000, 10_000)
    parked = w.ThreadSample(OTHER_TID, "S", 202, True, 80, 2_000_000, 0)
    return [
        w.CountersRecord(T0 + 0.5, PID, 1, 1.25, 0.5, 7, 3, 4096 * 1024, 3),
        w.TickRecord(T0 + 1.0, PID, None, None, None, 200, [busy, parked], window),
        w.StackRecord(T0 + 1.0, PID, TID, [("<module>", "main.py", 3), ("work", "main.py", 9)]),
        w.TickRecord(T0 + 1.01, PID, None, None, None, 201, [busy, parked], window),
        w.ThreadCpuRecord(PID, TID, "MainThread", 1.0, 0.25),
        w.SamplerCostRecord(PID, 0.125, 2),
        w.ProbeRecord(PID, 4, 2.0, 1.5),
    ]


def test_the_agent_writes_the_wire_module_it_sits_beside() -> None:
    assert Path(agent.wire.__file__) == Path(wire.__file__)
    assert set(wire.RECORD_TYPES) == {"t", "s", "c", "tc", "self", "probe"}


def test_every_record_kind_round_trips_through_the_agent_and_the_reader(
    agent_output: Path,
) -> None:
    records = _every_kind()
    for record in records:
        agent._write(record)
    lines = agent_output.read_bytes().splitlines()
    # The bytes on disk: compact positional arrays, as the agent always wrote them.
    assert lines[1] == (
        b'["t",1001.0,4242,null,null,null,200,[[4243,"R",null,false,120,9000000,10000],'
        b'[4244,"S",202,true,80,2000000,0]],[10000000.0,300000.0,true,true]]'
    )
    assert lines[2] == b'["s",1001.0,4242,4243,[["<module>","main.py",3],["work","main.py",9]]]'
    assert lines[0] == b'["c",1000.5,4242,1,1.25,0.5,7,3,4194304,3]'
    assert lines[4:] == [
        b'["tc",4242,4243,"MainThread",1.0,0.25]',
        b'["self",4242,0.125,2]',
        b'["probe",4242,4,2.0,1.5]',
    ]
    decoded = [wire.decode(line) for line in lines]
    assert decoded == records
    tick = decoded[1]
    assert isinstance(tick, wire.TickRecord)
    assert tick.observations[0].cpu_since_tick_ns == 9_000_000
    assert tick.observations[1].futex_on_gil and tick.window.gil_kept

    recording = _recording()
    chunk, names = read_inprocess(agent_output, recording, T0)
    assert names == {TID: "MainThread"}
    (counters,) = recording.counters
    assert (counters.t_s, counters.ppid, counters.rss_bytes) == (0.5, 1, 4096 * 1024)
    assert (counters.ctx_voluntary, counters.ctx_involuntary, counters.num_threads) == (7, 3, 3)
    assert recording.thread_cpu[(PID, TID)].system_s == 0.25
    assert recording.sampler_cpu_s == 0.125
    assert any("woke 0.50 ms late on average" in note for note in recording.notes)
    first, second = chunk.ticks
    assert (first.t_s, second.t_s) == (1.0, 1.01)
    assert (first.gil_locked, first.gil_holder_tid, first.process_cpu_ticks) == (True, TID, 200)
    by_tid = {o.tid: o for o in first.threads}
    assert by_tid[TID].proc_state == "R" and by_tid[TID].cpu_ticks == 120
    assert by_tid[OTHER_TID].futex_on_gil  # parked on the GIL: waiting for it
    (change,) = chunk.stacks[(PID, TID)]
    assert change.t_s == 1.0
    assert change.frames == (("<module>", "main.py", 3), ("work", "main.py", 9))


def test_a_line_cut_short_by_a_killed_target_is_skipped(agent_output: Path) -> None:
    for record in _every_kind():
        agent._write(record)
    with agent_output.open("ab") as out:
        out.write(b'["t",1002.0,4242,null,null,null,202,[[4243,"R",nu')
    assert wire.decode(agent_output.read_bytes().splitlines()[-1]) is None
    recording = _recording()
    chunk, _names = read_inprocess(agent_output, recording, T0)
    assert len(chunk.ticks) == 2 and len(recording.counters) == 1


def test_the_sampler_s_own_records_read_back_by_name(agent_output: Path) -> None:
    """The agent's writers, called in this process without starting its threads."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    worker = threading.Thread(target=spin, name="spinner")
    worker.start()
    sampler = agent._Sampler(100.0, {})  # GIL not located: its holder stays unknown
    sampler.proc_stat_fd = first_fd = os.open("/proc/self/stat", os.O_RDONLY)  # as `run` does
    try:
        sampler.counters(time.monotonic())
        sampler.tick(time.monotonic())
        time.sleep(0.02)
        sampler.tick(time.monotonic())
        sampler.latencies_ms = [0.5, 1.5]
        sampler.flush_probe()
        sampler.write_thread_cpu()
        sampler.stop.set()
        sampler.run()  # stopped already: writes the last counters and what it cost
    finally:
        stop.set()
        worker.join()
        for fd in {first_fd, sampler.proc_stat_fd}:
            os.close(fd)
        for tid in list(sampler.files):
            sampler.forget(tid)

    pid, main_tid = os.getpid(), threading.get_native_id()
    recording = _recording(pid)
    chunk, names = read_inprocess(agent_output, recording, T0)
    assert names[main_tid] == "MainThread" and "spinner" in names.values()
    assert len(chunk.ticks) == 2
    for tick in chunk.ticks:
        assert tick.pid == pid and tick.gil_locked is None
        assert {main_tid, worker.native_id} <= {o.tid for o in tick.threads}
    assert len(recording.counters) == 2
    assert all(c.ppid == os.getppid() and c.rss_bytes > 0 for c in recording.counters)
    assert recording.thread_cpu[(pid, main_tid)].user_s >= 0
    assert recording.sampler_cpu_s >= 0
    assert any("over 2 probes" in note for note in recording.notes)
    functions = [f for f, _file, _line in chunk.stacks[(pid, main_tid)][0].frames]
    assert "test_the_sampler_s_own_records_read_back_by_name" in functions


def test_importing_the_agent_starts_nothing() -> None:
    """The reader's side imports these modules; only `start` may begin sampling."""
    code = (
        "import atexit, os, threading\n"
        "fds, threads, exits = os.listdir('/proc/self/fd'), threading.enumerate(), "
        "atexit._ncallbacks()\n"
        "from concdiag.agent.inprocess import sampler as a\n"
        "assert os.listdir('/proc/self/fd') == fds, 'opened a file'\n"
        "assert threading.enumerate() == threads, 'started a thread'\n"
        "assert atexit._ncallbacks() == exits, 'registered an exit hook'\n"
        "assert a._STATE['fd'] == -1 and a._STATE['stop'] is None\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _busy_ticks(readings_us: list[float], tid: int) -> list[wire.TickRecord]:
    """One busy thread over 10 ms ticks, with its CPU (in microseconds) in each 300 us snapshot."""
    window = wire.SnapshotWindow(10e6, 300e3, True, True)
    return [
        wire.TickRecord(
            T0 + i * 0.01,
            PID,
            None,
            None,
            None,
            0,
            [wire.ThreadSample(tid, "R", None, False, 0, 9_000_000, int(us * 1000))],
            window,
        )
        for i, us in enumerate(readings_us)
    ]


def test_noise_readings_do_not_make_a_python_thread_native() -> None:
    """Pure-Python threads read at most 0.09 of a snapshot under load (measured): not native."""
    from concdiag.collectors.inprocess import split_python_native

    python = [0.0] * 9 + [140.0]  # one reading at 0.47 of the snapshot, below the 0.5 gap
    ticks = split_python_native(_busy_ticks(python, TID))
    assert [t.gil_holder_tid for t in ticks] == [TID] * 10


def test_a_native_thread_reads_most_of_each_snapshot() -> None:
    """A native thread on a CPU reads 0.7-1.0 of a snapshot: most of its ticks are native."""
    from concdiag.collectors.inprocess import split_python_native

    native = [270.0, 0.0] * 5  # on a CPU in half the snapshots, as with 4 threads on 2 cores
    ticks = split_python_native(_busy_ticks(native, TID))
    held = sum(t.gil_holder_tid == TID for t in ticks)
    assert held <= 2, [t.gil_holder_tid for t in ticks]
