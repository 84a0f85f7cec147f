"""The gate: `concdiag check` and `concdiag diff` judge measured runs against a policy.

- `policy`: the ``[tool.concdiag]`` policy, read and validated.
- `result`: the result model every CI output is rendered from (`GateResult`).
- `measure`: pure: the profiles of one target's runs -> one `Measurement` with noise margins.
- `evaluate`: pure: a `Measurement` -> findings under the policy's rules; the exit code.
- `diff`: pure: two measurements of one target -> changes and regression findings.
- `baseline`: read a saved side (profile or result) and pair its targets with HEAD's.
- `run`: the `check` and `diff` sessions: find the targets, profile them, evaluate, compare.
- `outputs`: write the CI outputs of a result.
- `render`: the outputs themselves (terminal text, Markdown, JSON, SARIF, JUnit, GitHub
  annotations) and the catalogue of rules SARIF describes.
"""
