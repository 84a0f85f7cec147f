"""Child processes that help the program without being its workers.

A Python child is a worker, whose work counts and whose presence makes the program one that
runs processes, unless it is one of these:

- a **local service**: a server the program runs for itself (a test service, a local API),
  standing in for another host. The kernel says it served the tree (it held the accepted end
  of a connection another process of the tree held the other end of: `serving_pids`), and
  it mostly waited;
- **multiprocessing's machinery**: the forkserver, which forks the pool's workers, and the
  resource tracker, which cleans up after them. The standard library starts both with a
  command line of its own: ``python -c 'from multiprocessing.forkserver import main;
  main(...)'`` up to 3.13, with ``import sys;`` before it from 3.14 (seen on Debian's 3.14.10
  and 3.15.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from concdiag.analysis.accounting.tally import ProcessTally, ThreadCounters
from concdiag.recording.recording import Recording

#: A child process that serves the tree is a worker, not a local service, when its threads
#: were on a CPU (or waiting for the GIL) for this share of its life or more. A stated
#: choice, half: a server standing in for another host mostly waits
#: (bench/workloads/parse_and_fetch.py's was busy for a tenth to a sixth of its life), while a
#: cluster's workers that also listen compute most of theirs.
SERVICE_BUSY_SHARE = 0.5
#: The modules whose ``main`` multiprocessing runs in a helper process of its own, by the
#: helper's name in reports.
MACHINERY_MODULES = {
    "multiprocessing.forkserver": "forkserver",
    "multiprocessing.resource_tracker": "resource tracker",
    "multiprocessing.semaphore_tracker": "resource tracker",
}
SERVICE = "service"
FORKSERVER = "forkserver"


def helper_processes(
    recording: Recording,
    threads: dict[tuple[int, int], ThreadCounters],
    processes: dict[int, ProcessTally],
    interval: float,
) -> dict[int, str]:
    """The children that help rather than work, by pid: what each is."""
    root = recording.target.pid
    found = {
        pid: name
        for pid, name in machinery(recording.commands, parents(recording)).items()
        if pid != root
    }
    for pid in recording.serving_pids:
        tally = processes.get(pid)
        if pid == root or pid in found or tally is None:
            continue
        life_s = max(tally.last_s - tally.first_s, interval)
        cpu_s = interval * sum(
            acc.counts["gil_held"] + acc.counts["gil_wait"] + acc.counts["native"]
            for acc in threads.values()
            if acc.pid == pid
        )
        if cpu_s < SERVICE_BUSY_SHARE * life_s:
            found[pid] = SERVICE
    return found


def parents(recording: Recording) -> dict[int, int]:
    return {c.pid: c.ppid for c in recording.counters if c.ppid is not None}


def machinery(commands: Mapping[int, Sequence[str]], parent: Mapping[int, int]) -> dict[int, str]:
    """multiprocessing's helper processes, by pid. The forkserver's workers are forked from
    it without a new command line, so they carry its command line too: a process whose
    parent runs the same helper is that helper's child, a worker. A parent whose own command
    line could not be read (a read that failed while it started) is named by its forked
    children's: only the forkserver forks workers, and they carry its command line."""
    named = {pid: name for pid, argv in commands.items() if (name := machinery_of(argv))}
    for pid, name in list(named.items()):
        ppid = parent.get(pid, -1)
        unread = ppid in commands and not commands[ppid]
        if name == FORKSERVER and unread and ppid not in named:
            named[ppid] = name
    return {pid: name for pid, name in named.items() if named.get(parent.get(pid, -1)) != name}


def machinery_of(argv: Sequence[str]) -> str | None:
    """The multiprocessing helper a command line starts (``-c 'from M import main; ...'``,
    after interpreter options only: a script's own ``-c`` argument is not one)."""
    words = list(argv[1:])
    while words and words[0].startswith("-") and words[0] != "-c":
        words = words[2:] if words[0] in ("-X", "-W") else words[1:]
    if len(words) < 2 or words[0] != "-c":
        return None
    for statement in words[1].split(";"):
        code = statement.split()
        if len(code) >= 4 and code[0] == "from" and code[2] == "import":
            name = MACHINERY_MODULES.get(code[1])
            if name is not None:
                return name
    return None
