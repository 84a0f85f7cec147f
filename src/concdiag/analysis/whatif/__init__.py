"""``concdiag whatif``: which alternatives to run, and the measurement against the prediction.

- ``plan.py``: the variants to run, from the pools the program created;
- ``compare.py``: the timed runs against the predicted speedup, and the outcome.
"""
