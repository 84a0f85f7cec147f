"""Call-heavy pure Python: an expression tree evaluated by small methods, a call per node.

Each call does a little work (an attribute read, an operation, a dict lookup), about a
microsecond, so a tracing profiler's fixed cost per call shows plainly.
"""

import random

MIXING_ROUNDS = range(12)


class Num:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def evaluate(self, env: dict[str, int]) -> int:
        return self.value


class Var:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def evaluate(self, env: dict[str, int]) -> int:
        return env.get(self.name, 0)


class BinOp:
    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: object, right: object) -> None:
        self.op, self.left, self.right = op, left, right

    def evaluate(self, env: dict[str, int]) -> int:
        a = self.left.evaluate(env)  # type: ignore[attr-defined]
        b = self.right.evaluate(env)  # type: ignore[attr-defined]
        return apply(self.op, a, b)


def apply(op: str, a: int, b: int) -> int:
    if op == "+":
        result = a + b
    elif op == "*":
        result = (a * b) % 1_000_003
    else:
        result = a - b if a > b else b - a
    for k in MIXING_ROUNDS:  # a little arithmetic per call, as real code has
        result = (result * 31 + k) ^ (result >> 3)
    return result & 0xFFFFFF


def build(depth: int, rng: random.Random) -> object:
    if depth == 0:
        return Num(rng.randrange(100)) if rng.random() < 0.5 else Var(rng.choice("xyz"))
    return BinOp(rng.choice("+*-"), build(depth - 1, rng), build(depth - 1, rng))


def main() -> None:
    rng = random.Random(7)
    tree = build(12, rng)
    total = 0
    for i in range(100):
        env = {"x": i, "y": i * 7 % 13, "z": i * 11 % 17}
        total = (total + tree.evaluate(env)) & 0xFFFFFFFF  # type: ignore[attr-defined]
    print(f"call_heavy: total={total:08x}")


if __name__ == "__main__":
    main()
