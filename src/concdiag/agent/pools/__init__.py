"""`concdiag whatif` inside the target: the pool classes swapped, and what they saw."""
