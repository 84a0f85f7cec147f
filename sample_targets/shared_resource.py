"""Four workers share one connection behind a lock; one connection each would not queue.

What it shows: a local server answers each request after 5 ms; the four workers send their
requests over a single shared socket, so a lock must cover each request and its reply, and the
holder waits on the network while the other three wait on the lock. The critical section
blocks on I/O: giving each worker its own connection removes the lock and the waiting.
Expected verdict: bound=sync cpu_kind=none recommendation=serial
Current model: threading
"""

import socket
import threading
import time

WORKERS = 4
REQUESTS_PER_WORKER = 60
#: The server's delay before each reply (a remote database, say).
REPLY_DELAY_S = 0.005


def serve(server: socket.socket) -> None:
    """Answer each line with its length, after REPLY_DELAY_S, until the client hangs up."""
    conn, _ = server.accept()
    with conn, conn.makefile("rb") as requests:
        for line in requests:
            time.sleep(REPLY_DELAY_S)
            conn.sendall(b"%d\n" % len(line))


class SharedClient:
    """One connection for every worker: requests and replies must not interleave."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address)
        self.replies = self.sock.makefile("rb")
        self.lock = threading.Lock()

    def query(self, text: str) -> int:
        with self.lock:
            self.sock.sendall(text.encode() + b"\n")
            return int(self.replies.readline())

    def close(self) -> None:
        self.replies.close()
        self.sock.close()


def worker(client: SharedClient, index: int, results: list[int]) -> None:
    for n in range(REQUESTS_PER_WORKER):
        results[index] += client.query(f"worker {index} request {n}")


def main() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server_thread = threading.Thread(target=serve, args=(server,), name="server")
    server_thread.start()
    client = SharedClient(server.getsockname())
    results = [0] * WORKERS
    workers = [
        threading.Thread(target=worker, args=(client, i, results), name=f"worker-{i}")
        for i in range(WORKERS)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    client.close()
    server_thread.join()
    server.close()
    print(f"shared_resource: replies={sum(results)}")


if __name__ == "__main__":
    main()
