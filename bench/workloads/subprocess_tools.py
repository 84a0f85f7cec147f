"""Run an external command per input file and collect its output (a build-tool driver).

Model as written: serial. Each command takes ~40 ms; the script only waits for it.
"""

import subprocess
import sys


def items() -> list[int]:
    return list(range(30))


def work(n: int) -> int:
    out = subprocess.run(
        ["sh", "-c", f"sleep 0.04; echo {n}"], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


def main() -> None:
    results = [work(n) for n in items()]
    print("subprocess_tools", sum(results), "--serial" in sys.argv)


if __name__ == "__main__":
    main()
