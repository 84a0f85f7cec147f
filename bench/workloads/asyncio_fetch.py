"""Query a slow line-protocol service on 127.0.0.1 for many keys with asyncio.

Model as written: asyncio (asyncio.run, gather of open_connection clients). The service,
standing in for a remote host, answers each request after 40 ms from a thread of this
process. ``work`` is the blocking (socket) version of one query, for the pool benchmarks.
"""

import asyncio
import socket
import socketserver
import sys
import threading
import time

PORT = 0
_server: socketserver.ThreadingTCPServer | None = None


class Service(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            time.sleep(0.04)
            self.wfile.write(b"value:" + line)


def setup() -> None:
    global PORT, _server
    socketserver.ThreadingTCPServer.daemon_threads = True
    _server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Service)
    PORT = _server.server_address[1]
    threading.Thread(target=_server.serve_forever, name="service", daemon=True).start()


def teardown() -> None:
    if _server is not None:
        _server.shutdown()
        _server.server_close()


def items() -> list[tuple[int, str]]:
    return [(PORT, f"key-{i}") for i in range(30)]


def work(item: tuple[int, str]) -> int:
    port, key = item
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(key.encode() + b"\n")
        return len(conn.makefile("rb").readline())


async def query(port: int, key: str, limit: asyncio.Semaphore) -> int:
    async with limit:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(key.encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return len(line)


async def gather_all(data: list[tuple[int, str]]) -> list[int]:
    limit = asyncio.Semaphore(8)
    return await asyncio.gather(*(query(port, key, limit) for port, key in data))


def main() -> None:
    setup()
    data = items()
    if "--serial" in sys.argv:
        sizes = [work(i) for i in data]
    else:
        sizes = asyncio.run(gather_all(data))
    teardown()
    print("asyncio_fetch", sum(sizes))


if __name__ == "__main__":
    main()
