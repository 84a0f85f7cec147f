"""concdiag: measure a Python program and say whether threads, processes or neither would pay."""

__version__ = "0.1.0"
