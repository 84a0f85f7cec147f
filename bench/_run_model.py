"""Run one workload's items under one model and print the wall seconds (for verdicts.py).

Usage: python bench/_run_model.py WORKLOAD.py serial|threading|multiprocessing
The timed span covers the pool's creation, the work and the pool's shutdown, not items().
"""

from __future__ import annotations

import importlib.util
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

WORKERS = 2


def main() -> None:
    path, model = Path(sys.argv[1]), sys.argv[2]
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    if hasattr(module, "setup"):
        module.setup()
    data = module.items()
    start = time.perf_counter()
    if model == "serial":
        for item in data:
            module.work(item)
    elif model == "threading":
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(module.work, data))
    else:
        with ProcessPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(module.work, data))
    elapsed = time.perf_counter() - start
    if hasattr(module, "teardown"):
        module.teardown()
    print(f"{elapsed:.6f}")


if __name__ == "__main__":
    main()
