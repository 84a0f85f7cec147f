"""Fetch JSON pages from a slow HTTP API on 127.0.0.1 with urllib and total a field.

Model as written: threads (ThreadPoolExecutor). The API (a local http.server that answers
after 40 ms, standing in for a remote host) runs in a thread of this process.
"""

import http.server
import json
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PORT = 0
_server: http.server.ThreadingHTTPServer | None = None


class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(0.04)
        body = json.dumps({"path": self.path, "value": len(self.path)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def setup() -> None:
    global PORT, _server
    _server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    PORT = _server.server_address[1]
    threading.Thread(target=_server.serve_forever, name="api-server", daemon=True).start()


def teardown() -> None:
    if _server is not None:
        _server.shutdown()
        _server.server_close()


def items() -> list[str]:
    return [f"http://127.0.0.1:{PORT}/items/{i}" for i in range(30)]


def work(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(json.load(response)["value"])


def main() -> None:
    setup()
    data = items()
    if "--serial" in sys.argv:
        values = [work(u) for u in data]
    else:
        with ThreadPoolExecutor(max_workers=8) as pool:
            values = list(pool.map(work, data))
    teardown()
    print("http_fetch", sum(values))


if __name__ == "__main__":
    main()
