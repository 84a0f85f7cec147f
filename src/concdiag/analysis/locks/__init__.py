"""Locks: which lock threads waited for, where, and what to change; deadlocks and stalls.

- ``report.py``: the lock tracker's tables joined with the sampled states and stacks;
- ``critical_sections.py``: the lines under a lock, read from the program's source;
- ``rules.py``: the lock-bound and deadlock reasons of the verdict;
- ``stalls.py``: attach mode's likely deadlock, from threads blocked with no progress.
"""
