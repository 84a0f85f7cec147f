"""Compare revisions of text documents with difflib and report similarity ratios.

Model as written: serial (a plain loop). difflib is pure Python: GIL-held CPU.
"""

import difflib
import random


def items() -> list[tuple[list[str], list[str]]]:
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    pairs = []
    for _ in range(40):
        a = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(1000)]
        b = [line if rng.random() > 0.2 else line[::-1] for line in a]
        pairs.append((a, b))
    return pairs


def work(pair: tuple[list[str], list[str]]) -> float:
    a, b = pair
    matcher = difflib.SequenceMatcher(None, a, b)
    ratio = matcher.ratio()
    diff = list(difflib.unified_diff(a, b, lineterm=""))
    return ratio + len(diff) * 0.0


def main() -> None:
    ratios = [work(p) for p in items()]
    print("difflib_compare", round(sum(ratios), 3))


if __name__ == "__main__":
    main()
