"""The gate: `concdiag check` and `concdiag diff` judge measured runs against a policy.

- `policy`: the ``[tool.concdiag]`` policy, read and validated.
- `result`: the result model every CI output is rendered from (`GateResult`).
- `evaluate`: pure: profiles -> a `Measurement` -> findings under the policy's rules.
- `diff`: pure: two measurements of one target -> changes and regression findings.
- `run`: the sessions: find the targets, profile them, evaluate, write the outputs.
- `render`: the CI outputs (terminal text, Markdown, JSON, SARIF, JUnit, annotations).
"""
