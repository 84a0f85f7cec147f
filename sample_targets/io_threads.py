"""Blocking network I/O in eight client threads against a slow local HTTP server.

What it shows: a ThreadingHTTPServer on 127.0.0.1 answers each request after a simulated 75 ms
backend delay; eight client threads fetch from it with urllib, so nearly all thread time is spent
blocked on sockets (or sleeping in the handler), the GIL is almost idle, and threads overlap the
waits well.
Expected verdict: bound=io cpu_kind=none recommendation=threading
Current model: threading
"""

import http.server
import threading
import time
import urllib.request
import zlib

CLIENT_THREADS = 8
REQUESTS_PER_CLIENT = 25
#: Simulated backend latency per request; 25 sequential requests per client make ~2 s.
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


def make_opener() -> urllib.request.OpenerDirector:
    """A plain-HTTP opener that ignores proxy settings (the traffic must stay on the loopback).

    Built by hand rather than with build_opener(), which also sets up an HTTPS handler whose
    default SSL context loads the CA store: tens of ms of CPU per opener on Python 3.12+.
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def client(index: int, base_url: str, results: list[int]) -> None:
    opener = make_opener()
    checksum = 0
    for n in range(REQUESTS_PER_CLIENT):
        with opener.open(f"{base_url}/item/{index}/{n}", timeout=10) as response:
            checksum = zlib.crc32(response.read(), checksum)
    results[index] = checksum


def main() -> None:
    server = JoiningHTTPServer(("127.0.0.1", 0), SlowHandler)
    host, port = server.server_address[:2]
    base_url = f"http://{host}:{port}"
    server_thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="http-server"
    )
    server_thread.start()
    results = [0] * CLIENT_THREADS
    try:
        clients = [
            threading.Thread(target=client, args=(i, base_url, results), name=f"client-{i}")
            for i in range(CLIENT_THREADS)
        ]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
    finally:
        server.shutdown()
        server.server_close()
        server_thread.join()
    checksum = 0
    for r in results:
        checksum = zlib.crc32(r.to_bytes(4, "big"), checksum)
    total = CLIENT_THREADS * REQUESTS_PER_CLIENT
    print(f"io_threads: requests={total} checksum={checksum:08x}")


if __name__ == "__main__":
    main()
