"""Every threshold the verdict uses, and where its number came from.

Each says whether it rests on a measurement in docs/ or is a stated choice, and why. A stated
choice has no measurement behind its exact value; the measurements cited beside one show
that the cases it is meant for sit clear of it. docs/measurement.md "Verdict thresholds"
lists them in one table.
"""

from __future__ import annotations

# -- bound ----------------------------------------------------------------------------------
#: CPU-bound from this share of worker time in CPU (GIL held, GIL wait, native). A stated
#: choice: about two thirds, so one kind of time clearly dominates and a band is left between
#: CPU and I/O for `mixed`. A run near it can flip bound from run to run (a target measured
#: at 64-66% I/O can read `io`), so sample_targets/mixed.py is sized to sit mid-band (49-62%
#: I/O, as its header says).
CPU_BOUND_SHARE = 0.65
#: I/O-bound from this share of worker time waiting on I/O: a stated choice, the same as
#: CPU_BOUND_SHARE so that neither kind of time is favoured.
IO_BOUND_SHARE = 0.65
#: Lock-bound from this share of worker time waiting for locks other workers hold (checked
#: first). A stated choice, lower than the others: lock waits are lost time that more workers
#: lengthen, and they cap any gain (T(N) >= L in docs/measurement.md "Predicted speedup": at
#: this share, 1 / 0.35 = 2.9x at most).
SYNC_BOUND_SHARE = 0.35
#: Lock waits are contention only between this many worker threads or more: a definition, one
#: thread cannot wait for a lock held by another.
MIN_LOCK_WORKERS = 2
#: Idle when the workers computed (GIL held or native) for less than this share of the wall
#: time, summed over threads: a tenth of one core. A stated choice.
IDLE_BUSY_SHARE = 0.10
#: ... and CPU was less than this share of worker time: a stated choice, a minority.
IDLE_MAX_CPU_SHARE = 0.5
#: ... and at least this share of the I/O wait was sleep(): a stated choice, waiting that is
#: mostly timers, which more workers would not shorten.
IDLE_SLEEP_SHARE = 0.8
#: Less work than this (worker time; useful work for `too_short`) is too little to spread
#: over workers. A stated choice, of the order of what a pool costs to start:
#: docs/measurement.md "Predicted speedup" measured 5-10 ms per forked process, ~330 ms per
#: spawned one.
MIN_WORK_S = 0.1
#: Worker processes' start-up (their imports) is named only from this many CPU seconds in
#: all. A stated choice: under it the figure is a few samples at 100 Hz, within their
#: sampling error (docs/measurement.md "Worker start-up").
MIN_WORKER_START_S = 0.05
#: CPU is `python` when at least this share of it held or waited for the GIL, else
#: `native`: the majority, by definition. Confidence in a CPU bound grows with the distance
#: of the Python share from it.
CPU_KIND_SPLIT = 0.5
#: GIL waits above this share of worker time are named as a reason (they change no
#: decision). A stated choice: a twentieth of the time is worth pointing out.
GIL_CONTENTION_SHARE = 0.05
#: The GIL holders' top line is named in that reason when the waits charged to it are at
#: least this share of all GIL waits: a stated choice, a line behind a third of the waits is
#: worth changing first; below it the waits spread over many lines and naming one misleads.
GIL_HOLDER_NAMED_SHARE = 0.33

# -- pool overhead --------------------------------------------------------------------------
#: What a process pool would spend pickling a thread pool's tasks is named as a reason from
#: this share of the divisible work. A stated choice, a tenth: below it the cost moves the
#: prediction by under 10%, and the workloads it is meant for sit far above it
#: (bench/workloads/big_arg_python.py: 1.36 s estimated against 1.70 s of work).
SHIPPING_NAMED_SHARE = 0.1
#: Pool machinery costing this share of the useful CPU (or more) is named as a reason. A
#: stated choice, far below the workloads it is meant for: docs/measurement.md
#: "Pool overhead" measured tiny_tasks at 1.4-2.4 s of overhead against 0.04-0.08 s of work
#: and big_args at 4.9 s (4.3 + 0.6) against 1.4 s.
POOL_OVERHEAD_SHARE = 0.5
#: ... and only from this many seconds of it: a stated choice, so a short run's few
#: ticks in the pool are not a reason.
MIN_OVERHEAD_S = 0.05
#: Serialising at least this many times as long as dispatching means the arguments are too
#: large, else the tasks too small. A stated choice: docs/measurement.md "Pool
#: overhead" measured big_args at 4.3 s serialising against 0.6 s dispatching (7x).
SERIALISE_DOMINANT = 3.0

# -- recommendation -------------------------------------------------------------------------
#: Neither threads nor processes are recommended below this predicted speedup. A stated
#: choice: the model leaves out costs (docs/measurement.md "Predicted speedup"), so a smaller
#: predicted gain is not worth them.
MIN_GAIN = 1.15
#: Processes must be predicted this much faster than threads to be recommended: what the model
#: leaves out (pickling each task, memory per process) makes a smaller edge unreliable. A
#: stated choice (docs/measurement.md "Predicted speedup").
PROCESS_MARGIN = 1.25
#: Threads and processes are compared at max(cores, this) workers: the pool size people run,
#: one worker per core but at least two. A stated choice (docs/measurement.md "Predicted
#: speedup"): beyond the cores, extra processes only overlap waits that threads overlap too.
MIN_POOL_WORKERS = 2
#: I/O-bound runs with this many worker threads or more are pointed to asyncio. A stated
#: choice: well above the few threads of a usual I/O pool (sample_targets/io_threads.py: 8).
MANY_THREADS_FOR_ASYNCIO = 50

# -- confidence (docs/measurement.md "Confidence") -------------------------------------------
#: Simulated reruns drawn per verdict: a stated choice; the agreement share then carries a
#: binomial error of at most 2.5 points (one sigma), and deciding them costs ~20 ms.
CONFIDENCE_DRAWS = 400
#: The draws' seed, so a profile always gets the same confidence: a stated choice (any fixed
#: number does).
CONFIDENCE_SEED = 12
#: Run-to-run spread of a program's worker time, as the standard deviation of its logarithm
#: (about the relative spread): docs/measurement.md "Confidence" measured 0.20 (median over
#: 4 targets, 6 reruns each, load ~6 on 2 cores; max 0.34) with bench/confidence.py.
RERUN_SCALE_SD = 0.20
#: Run-to-run spread of each state's share of the work beyond its sampling error, as the
#: standard deviation of its logarithm: docs/measurement.md "Confidence" measured at most
#: 0.04 (same runs).
RERUN_STATE_SD = 0.04
#: Confidence never exceeds this: a stated choice; a sampled verdict is never certain, and
#: 400 draws cannot tell 0.995 from 1.
MAX_CONFIDENCE = 0.99
#: Cap when the interpreter has a GIL whose word could not be read: every runnable tick is
#: then taken as GIL-held (accounting/tick_states.py), so native CPU, which decides threads vs
#: processes, goes unseen, and reruns would agree on the same blind guess. A stated choice.
NO_GIL_WORD_CONFIDENCE = 0.6
#: Cap without stacks: no coordination, pool overhead or hot code (docs/measurement.md "Known
#: limits"), so waits for other workers count as work, the same way in every rerun. A
#: stated choice.
NO_STACKS_CONFIDENCE = 0.7
#: Cap where the program runs worker processes that no pool in its source started (a channel
#: library, its own fork scheme, interpreters started with subprocess): the process model is
#: inferred from the process tree, and the speedup model's pool terms are outside what the
#: bench measured (docs/verdicts.md). A stated choice: one rerun in five may differ.
INFERRED_MODEL_CONFIDENCE = 0.8
#: Cap when a program runs worker processes but never two at once (`workers_one_at_a_time`):
#: whether its work divides among several, as the prediction assumes, the run cannot show
#: (a chain of steps, each needing the one before, looks the same). A stated choice, the
#: floor of what reads as a verdict here (as `LIKELY_DEADLOCK_CONFIDENCE`).
ONE_AT_A_TIME_CONFIDENCE = 0.6
#: Confidence never goes below this: a stated choice, so a verdict made almost blind still
#: reads as a verdict, not as zero.
MIN_CONFIDENCE = 0.05

# -- locks and deadlocks (docs/measurement.md "Locks") ---------------------------------------
#: A critical section *blocks* (I/O, sleep) when at least this share of the sampled time
#: inside it was `io`: the advice is then to move the blocking call out of the lock or give
#: each worker its own resource. A definition: the majority.
CS_BLOCKED_SHARE = 0.5
#: ... and it *computes natively* (zlib, hashlib, numpy: work threads could run in parallel,
#: serialised by the lock) when at least this share of its sampled CPU inside had the GIL
#: released: the advice is to give each worker its own instance. A definition: the majority.
CS_NATIVE_SHARE = 0.5
#: A critical section's states are judged from this many samples inside it, or not at all.
#: A stated choice: three ticks (30 ms at 100 Hz) keep one stray sample from deciding.
MIN_CS_SAMPLES = 3
#: A lock taken at least this often (acquisitions per second of the run) ... A stated choice:
#: a hundred a second is far above what a lock guarding slow work (I/O, 10 ms and more) sees.
HOT_LOCK_RATE_HZ = 100.0
#: ... for less than this on average is *hot*: it costs through how often it is taken, and
#: the advice is to take it less often. A stated choice: holds shorter than one GIL turn (the
#: 5 ms switch interval) are too short to shorten further; their number is the cost.
HOT_LOCK_MEAN_HOLD_S = 0.005
#: Confidence of a `deadlock` verdict found by the lock tracker: a wait-for cycle that lasted
#: --deadlock-after seconds. A stated choice: a cycle of untimed waits cannot end by itself,
#: but a lock released by a thread that never acquired it is only seen when it happens.
DEADLOCK_CONFIDENCE = 0.95
#: attach infers a deadlock (no cycle is seen from outside) when, over its last
#: --deadlock-after seconds, every Python thread spent at least this share of its observed
#: samples blocked in `sync` ... A stated choice: nearly all, one stray tick allowed.
STALL_SYNC_SHARE = 0.95
#: ... while the process used less than this many cores: a stated choice, no progress.
STALL_MAX_CORES = 0.05
#: Confidence of such an inferred deadlock: a stated choice, the gate's default
#: min_confidence (docs/ci.md): a thread pool idle on a lock-protected queue looks the same.
LIKELY_DEADLOCK_CONFIDENCE = 0.6
#: The predicted-speedup reason names the CPU no worker count divides from this many seconds:
#: a stated choice, a few ticks at the default rate.
SERIAL_SAID_S = 0.05
#: A lock held for this share of a serial run's work or more is named as what would serialise
#: threads (`lock_would_serialise`): a stated choice, where its holds bound threads below 4x.
SERIALISING_LOCK_SHARE = 0.25

#: External commands' CPU is named in the reasons when it is at least this share of worker
#: time: a stated choice, as `GIL_CONTENTION_SHARE`, so a shell's few milliseconds are not.
MIN_EXTERNAL_SHARE = 0.1

#: A model predicted to save less than this many seconds on the run's work is not
#: recommended (`small_saving`): a stated choice, twice the absolute tie of the bench's truth
#: (50 ms, bench/verdicts.py), under which two models' measured times count as equal.
MIN_SAVING_S = 0.1
#: Time in which every thread waited on another counts against a model's saving
#: (`waits_exceed_gain`) from this much up: a stated choice, three collected timeline bins
#: (0.05 s each), so a single hand-off at start or exit does not.
MIN_MUTUAL_WAIT_S = 0.15

#: Sleep inside items' work is named (and caps confidence) from this share of the I/O wait
#: up: a stated choice, as `IDLE_SLEEP_SHARE` names its own share, so a stray nap is not.
MIN_SLEEP_IN_CALLS_SHARE = 0.25

#: A lock-bound program's top critical section computes (holds the GIL, waits for it, or
#: runs native code) for at least this share of the time sampled inside it in those states
#: or I/O: it serialises CPU work, and workers each with their own copy of what the lock
#: guards are predicted instead of staying serial. A definition: the majority, as
#: `CS_BLOCKED_SHARE` and `CS_NATIVE_SHARE`.
CS_CPU_SHARE = 0.5

#: A serial run that recommends a pool on less divisible work than this has its confidence
#: capped (`small_serial_run`). A stated choice from bench/realprograms' small inputs
#: (docs/verdicts.md): there, set-up a serial run cannot tell from per-item work decided the
#: truth (sphinx on 3 pages, 0.4-0.7 s of work besides its imports, ran 1.2x slower on 2
#: workers, and concdiag said processes at 0.92-0.99), while runs as small whose work did
#: divide (black on 5 files, 1.4x faster on 2) and the sample targets' single loops
#: (`crash_halfway.py`, 0.6-1.0 s) look the same in one serial run.
SMALL_SERIAL_WORK_S = 1.0
#: ... capped at this: a stated choice, under the 0.9 from which the bench's reliability
#: table is read, and above the 0.8 the sample targets' own expectations ask for.
SMALL_SERIAL_RUN_CONFIDENCE = 0.85

#: Processes recommended for work that ran in one process (nothing was pickled) are capped at
#: this confidence (`arguments_unmeasured`): a stated choice, under the 0.9 from which the
#: reliability tables are read, after bench/workloads/big_arg_python.py (14 tables of 200k
#: rows handed to 2 threads) got processes at 0.99 while they ran 1.9x slower than serial
#: (docs/verdicts.md), and at 0.99 on its serial run.
UNMEASURED_SHIPPING_CONFIDENCE = 0.85
