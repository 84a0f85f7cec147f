"""From the accounting's figures to a verdict: what bounds the program, what to use instead.

- ``decide.py``: the verdict, one named rule after another, each reason with its figures;
- ``rules.py``: the rules (bound, CPU kind, GIL contention, pool overhead, recommendation);
- ``inputs.py``: the figures the rules read, gathered once from the accounting;
- ``thresholds.py``: every threshold, named, with where its number came from;
- ``speedup.py``: the predicted speedup under threads and processes;
- ``confidence.py``: how likely a rerun is to give the same recommendation;
- ``no_gil.py``: what the verdict becomes on a free-threaded build without the GIL;
- ``current_model.py``, ``start_method.py``: what the program uses now, read from its source.
"""
