"""From ticks to figures: each thread's states, each process's tallies, the timeline.

- ``streaming.py``: the one accounting path, fed chunk by chunk (live) or whole (a replay);
- ``tick_states.py``: what one observation of one thread says (the per-tick rules);
- ``tick_clocks.py``: the on-CPU rule, from each thread's own scheduler clocks;
- ``tally.py``: what is counted per thread and per process while ticks stream;
- ``stack_roles.py``: which threads coordinate (pool machinery) rather than work;
- ``thread_totals.py``: each thread's states and role, and the sums over Python threads;
- ``assembly.py``: tallies into per-thread and per-process profiles and the timeline;
- ``clock_figures.py``: each thread's states checked against its CPU clock, error bars;
- ``result.py``: the `Accounting` the verdict and the profile are built from;
- ``stack_bound.py``, ``tree.py``: the stacks kept for the report, the process tree's sums.
"""
