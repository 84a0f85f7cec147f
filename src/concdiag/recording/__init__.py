"""The record contract: what collectors produce and the analysis consumes.

Immutable records with no behaviour beyond reading and writing themselves; nothing here
knows how a target is launched or how a figure is computed. Collectors (`concdiag.collectors`)
write these, the analysis (`concdiag.analysis`) reads them, and neither imports the other.
"""
