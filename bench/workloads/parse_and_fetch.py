"""Fetch sensor exports from a slow HTTP service on 127.0.0.1 and parse them in pure Python.

Model as written: threads (ThreadPoolExecutor(2)). Each task downloads one export with urllib
(the service, standing in for a remote host, answers after 30 ms) and then parses its
``key=value`` records and aggregates them in pure Python (~110 ms, GIL-held). The service runs
in a separate process started by setup(), so process-pool workers reach it too (its port is
a module global, set before the pool forks, and part of each item's URL).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

#: Exports fetched (tasks): 20 at ~30 ms of waiting and ~110 ms of parsing each, so two
#: threads take ~2.3 s and a loop ~2.9 s.
EXPORTS = 20
#: The service's answer delay: a nearby data service's response time (30 ms).
SERVICE_DELAY_S = 0.03
#: Records in each export: 50k (a ~3 MB body) download, parse and aggregate in ~110 ms of
#: Python, measured on the 2-core bench machine.
RECORDS = 50_000
#: Sensors in each export (a plant's sensor count).
SENSORS = 64
#: Distinct export bodies the service prepares at start-up (it serves them round robin, so
#: it spends no CPU per request on making them).
VARIANTS = 4
#: The environment variable that also carries the port to anything started later.
PORT_ENV = "PARSE_AND_FETCH_PORT"

PORT = 0
_server: subprocess.Popen[bytes] | None = None


def _export_body(variant: int) -> bytes:
    lines = [
        f"ts={1_700_000_000 + i * 5};sensor=s{(i * 7 + variant) % SENSORS:02d};"
        f"value={((i * 104_729 + variant) % 100_000) / 100:.2f};unit={'CF'[i % 5 == 0]};status="
        + ("ok" if (i + variant) % 37 else "stale")
        for i in range(RECORDS)
    ]
    return ("\n".join(lines) + "\n").encode()


def _serve() -> None:
    """The service process: answer GET /export/<n> after SERVICE_DELAY_S; print the port."""
    bodies = [_export_body(v) for v in range(VARIANTS)]

    class Exports(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(SERVICE_DELAY_S)
            body = bodies[int(self.path.rsplit("/", 1)[-1]) % VARIANTS]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exports)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def setup() -> None:
    """Start the service in its own process and wait for its port."""
    global PORT, _server
    _server = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve"], stdout=subprocess.PIPE
    )
    assert _server.stdout is not None
    PORT = int(_server.stdout.readline())
    os.environ[PORT_ENV] = str(PORT)


def teardown() -> None:
    global _server
    if _server is not None:
        _server.terminate()
        _server.wait(timeout=10)
        if _server.stdout is not None:
            _server.stdout.close()
        _server = None


def items() -> list[str]:
    port = PORT or int(os.environ[PORT_ENV])
    return [f"http://127.0.0.1:{port}/export/{n}" for n in range(EXPORTS)]


def work(url: str) -> tuple[str, float]:
    """The export's warmest sensor (by mean of its fresh readings) and its hottest hour's peak."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    peaks: dict[tuple[str, int], float] = {}
    for line in text.splitlines():
        record = dict(field.split("=", 1) for field in line.split(";"))
        if record["status"] != "ok":
            continue
        sensor = record["sensor"]
        value = float(record["value"])
        if record["unit"] == "F":
            value = (value - 32) * 5 / 9
        sums[sensor] = sums.get(sensor, 0.0) + value
        counts[sensor] = counts.get(sensor, 0) + 1
        key = (sensor, int(record["ts"]) // 3600 % 24)
        if value > peaks.get(key, -273.15):
            peaks[key] = value
    warmest = max(sums, key=lambda s: sums[s] / counts[s])
    return warmest, max(v for (s, _hour), v in peaks.items() if s == warmest)


def main() -> None:
    if "--serve" in sys.argv:
        _serve()
        return
    setup()
    try:
        data = items()
        if "--serial" in sys.argv:
            results = [work(u) for u in data]
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(work, data))
    finally:
        teardown()
    print("parse_and_fetch", round(sum(peak for _sensor, peak in results), 2))


if __name__ == "__main__":
    main()
