"""Serve a folder over HTTP on 127.0.0.1, answering each request after a delay.

It stands for a remote web site: it runs as its own process, started by the bench beside
(never under) the program concdiag profiles, so the program's sockets lead out of its
process tree as they would to another host.

    python site_server.py FOLDER     (prints the port on its first line, then serves)
"""

from __future__ import annotations

import functools
import http.server
import sys
import time

#: Each answer's delay: a round trip to a nearby host, and enough that checking the big site
#: (`inputs.SITE`) with one thread is mostly waiting.
DELAY_S = 0.04


class SlowHandler(http.server.SimpleHTTPRequestHandler):
    """Files from the folder, each after `DELAY_S`; no log lines."""

    def do_GET(self) -> None:
        time.sleep(DELAY_S)
        super().do_GET()

    def do_HEAD(self) -> None:
        time.sleep(DELAY_S)
        super().do_HEAD()

    def end_headers(self) -> None:
        # Lifts LinkChecker's pacing of requests to one host (see inputs.website).
        self.send_header("LinkChecker", "bench")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


def main() -> None:
    handler = functools.partial(SlowHandler, directory=sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
