"""Blocking network I/O on a process pool, where threads would serve as well for less.

What it shows: a ProcessPoolExecutor(8) fetches 64 resources from a slow local HTTP server (a
ThreadingHTTPServer on 127.0.0.1 answering after 75 ms); the workers spend nearly all their time
blocked on sockets, so eight processes overlap the waits no better than eight threads would, and
pay for starting the processes. `concdiag whatif` swaps in a ThreadPoolExecutor(8) and measures
it as fast or faster.
Expected verdict: bound=io cpu_kind=none recommendation=threading
Current model: multiprocessing
"""

import http.server
import threading
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor

WORKERS = 8
REQUESTS = 64
#: Simulated backend latency per request: 64 requests over 8 workers take ~0.6 s.
BACKEND_DELAY_S = 0.075


class SlowHandler(http.server.BaseHTTPRequestHandler):
    """Sleeps, as a slow backend would, then answers with a small deterministic body."""

    def do_GET(self) -> None:
        time.sleep(BACKEND_DELAY_S)
        body = f"resource {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the target's output to its one result line


class JoiningHTTPServer(http.server.ThreadingHTTPServer):
    # Non-daemon handler threads, so server_close() joins every one of them.
    daemon_threads = False
    block_on_close = True


#: Set in the parent before the pool starts; forked workers inherit it.
BASE_URL = ""


def fetch(index: int) -> int:
    """One request through a plain-HTTP opener (no proxies, no CA store to load)."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    with opener.open(f"{BASE_URL}/item/{index}", timeout=30) as response:
        return len(response.read())


def main() -> None:
    global BASE_URL
    server = JoiningHTTPServer(("127.0.0.1", 0), SlowHandler)
    BASE_URL = f"http://127.0.0.1:{server.server_address[1]}"
    serving = threading.Thread(target=server.serve_forever, name="http-server")
    serving.start()
    try:
        with ProcessPoolExecutor(max_workers=WORKERS) as pool:
            sizes = list(pool.map(fetch, range(REQUESTS)))
    finally:
        server.shutdown()
        server.server_close()
        serving.join()
    print(f"io_process_pool: workers={WORKERS} requests={REQUESTS} bytes={sum(sizes)}")


if __name__ == "__main__":
    main()
