"""The in-process sampler (used where tracing is denied) and the records it writes."""
