"""Renderers of a `GateResult`: each turns the one result into one CI output format.

They are peers with one contract, as the profile renderers in `concdiag.render` are: a file
extension and ``render(result) -> str``.
"""
