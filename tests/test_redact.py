from __future__ import annotations

from concdiag.redact import MASK, mask_args


def test_secret_options_are_masked() -> None:
    args = ["--token=abc123", "--password", "hunter2", "API_KEY=xyz", "--out", "a.json"]
    assert mask_args(args) == [
        f"--token={MASK}",
        "--password",
        MASK,
        f"API_KEY={MASK}",
        "--out",
        "a.json",
    ]


def test_url_passwords_and_long_tokens_are_masked() -> None:
    masked = mask_args(["https://user:pa55@host/db", "0123456789abcdef0123456789abcdef01"])
    assert masked == [f"https://user:{MASK}@host/db", MASK]


def test_ordinary_arguments_are_kept() -> None:
    args = ["--keyboard", "fr", "-n", "5", "<b>", "data/file-name.csv"]
    assert mask_args(args) == args
