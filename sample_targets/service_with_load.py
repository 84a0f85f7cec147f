"""A small HTTP service on 127.0.0.1 under load from its own client threads, bounded in time.

What it shows: a ThreadingHTTPServer whose handler waits on a slow backend (up to 30 ms on a
socket that never answers) and renders a small JSON body; six client threads hit it with urllib
for SECONDS seconds (default 2, first argument), then the service shuts down. Almost all thread
time is blocked on sockets, the GIL is mostly free, so threads overlap the waits well. It is the
target for `concdiag attach`: start it with a longer SECONDS and attach to its PID.
Expected verdict: bound=io cpu_kind=none recommendation=threading
Current model: threading
"""

import http.server
import json
import socket
import sys
import threading
import time
import urllib.request

CLIENT_THREADS = 6
BACKEND_WAIT_S = 0.03


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        backend, other = socket.socketpair()
        backend.settimeout(BACKEND_WAIT_S)
        try:
            backend.recv(1)  # the "backend" is slow: this waits on the socket and times out
        except TimeoutError:
            pass
        finally:
            backend.close()
            other.close()
        body = json.dumps({"path": self.path, "items": list(range(20))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def client(url: str, until: float, counts: list[int], index: int) -> None:
    while time.monotonic() < until:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
        counts[index] += 1


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, name="http-server", daemon=True)
    serving.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/items"
    until = time.monotonic() + seconds
    counts = [0] * CLIENT_THREADS
    clients = [
        threading.Thread(target=client, args=(url, until, counts, i), name=f"load-{i}")
        for i in range(CLIENT_THREADS)
    ]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    server.shutdown()
    server.server_close()
    print(f"service_with_load: requests={sum(counts)}", flush=True)


if __name__ == "__main__":
    main()
