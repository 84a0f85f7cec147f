"""Everything of concdiag's that runs inside the target's interpreter.

The target may be any CPython from 3.10 to 3.15, in an environment that does not have
concdiag installed, so every module here imports only the standard library and this package
(`tests/test_architecture.py` checks it). The bootstrap (``bootstrap.py``) is started by path
and loads this folder as the package ``_concdiag_agent``; its modules then import each other
relatively. Code that runs beside the target (in concdiag's own process) may import the
record formats from here (``inprocess/wire.py``), never the other way round.

- ``bootstrap.py``: checks and starts the user's script, reports threads, waits for "go";
- ``gil_search.py``: finds the GIL state in the interpreter's memory (3.10-3.12);
- ``deep_probe.py``: ``--deep``, yappi driven from inside;
- ``locks/``: the lock tracker and deadlock detection;
- ``pools/``: ``whatif``'s pool swap and what it saw;
- ``inprocess/``: the in-process sampler used where tracing is denied, and its wire format;
- ``common.py``: what several of them need (standard-library test, SIGTERM chaining,
  atomic writes).
"""
