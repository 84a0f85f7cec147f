"""Calibration: two threads blocked on sockets served on 127.0.0.1.

A server thread answers each request after 40 ms; the client threads send a request and
block in ``recv`` for the answer, over and over. Truth, measured inside each client: its time
in ``sendall`` and ``recv`` (I/O state) over its alive time.
"""

import socket
import sys
import threading
import time

from truth import ThreadTruth, write_truth

CLIENTS = 2
ROUNDS = 30
DELAY_S = 0.04


def serve(listener: socket.socket) -> None:
    conns = [listener.accept()[0] for _ in range(CLIENTS)]

    def answer(conn: socket.socket) -> None:
        with conn:
            while conn.recv(16):
                time.sleep(DELAY_S)
                conn.sendall(b"x")

    helpers = [threading.Thread(target=answer, args=(c,), name="server") for c in conns]
    for h in helpers:
        h.start()
    for h in helpers:
        h.join()


def client(port: int, truth: ThreadTruth) -> None:
    with truth, socket.create_connection(("127.0.0.1", port)) as conn:
        for _ in range(ROUNDS):
            with truth.waiting("io"):
                conn.sendall(b"q")
                conn.recv(16)


def main() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    server = threading.Thread(target=serve, args=(listener,), name="server")
    server.start()
    truths = {f"client-{i}": ThreadTruth() for i in range(CLIENTS)}
    clients = [
        threading.Thread(target=client, args=(port, truth), name=name)
        for name, truth in truths.items()
    ]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    server.join()
    listener.close()
    if len(sys.argv) > 1:
        expected = {name: {"io": t.wait_share("io")} for name, t in truths.items()}
        write_truth(sys.argv[1], expected, truths)


if __name__ == "__main__":
    main()
