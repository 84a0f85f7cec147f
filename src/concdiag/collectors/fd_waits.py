"""Which file descriptors a blocked thread waits on, and where their other ends are.

A thread blocked reading a pipe or a socket whose other end is held by a process of the
traced tree (its own included) waits for the tree itself: a worker for its next task, a
channel thread for a worker's result, a parent for a child to finish. That is coordination,
not I/O that more threads could overlap. A wait that includes a file, a terminal, or a socket
whose other end is outside the tree (another host, a server the tree does not contain) is I/O.
So is a wait on a connection to a server the tree runs itself (a process holding a listening
socket that accepted the connection): a local service stands in for another host, and the
analysis does not count it as a worker (`TreeEnds.serving_pids`).

Everything is read from the kernel, whatever library made the channel: the blocking call's
arguments (``/proc/<pid>/task/<tid>/syscall``), the descriptors' links (``/proc/<pid>/fd``),
an epoll set (``/proc/<pid>/fdinfo``), poll and select sets (the target's memory), a unix
socket's peer (``sock_diag``) and loopback TCP peers (``/proc/net/tcp``).
"""

from __future__ import annotations

import os
import platform
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: Descriptors of one poll, select or epoll set looked at: a server's thousand sockets are
#: judged by the first of them (a stated choice: each costs a readlink, 4.4 µs here).
MAX_FDS_PER_WAIT = 64
#: How long a descriptor's judgement is kept (its link unchanged) before it is made again: a
#: channel's other end can close.
JUDGEMENT_TTL_S = 2.0
#: Judgements kept at most: a long-running server opens descriptors without end, and an old
#: descriptor's judgement is made again at its next wait (a stated bound, a few MB at most).
MAX_JUDGEMENTS = 20_000
#: A pipe or socket judged to lead out of the tree is judged again this soon: a worker found
#: a tick after its parent began waiting on it turns an "out" into "in" within this.
RECHECK_S = 0.25
#: The index of who in the tree holds which pipe and socket is rebuilt at most this often
#: (besides at once when a process joins the tree). A rebuild costs about 7 ms here (load
#: 0.3, 8 descriptors: 4.4 µs a readlink, 4.4 ms to read /proc/net/tcp), so a program whose
#: sockets lead out of the tree pays at most 0.7% of a core for it; a channel opened between
#: two processes already followed is found within this.
REINDEX_S = 1.0
#: While a process of the tree holds a connection its server has not accepted yet, and no
#: server of the tree is known, the index is rebuilt this soon instead: a program that opens
#: a connection per request to a server it runs is otherwise seen only when a rebuild lands
#: after an accept (parse_and_fetch: its service missed, and read as a worker, in 1 run of
#: 20). Bounded by that condition: once a server is known, `REINDEX_S` again.
AWAITING_ACCEPT_REINDEX_S = 0.05

INTERNAL = "internal"
EXTERNAL = "external"
NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class WaitCalls:
    """One architecture's blocking calls, by how their arguments name what they wait on."""

    machine: str
    on_fd: frozenset[int]  # read, recv, write, send, accept, connect...: the first argument
    poll: frozenset[int]  # poll, ppoll: an array of (fd, events, revents) and its length
    select: frozenset[int]  # select, pselect6: nfds, then read and write sets
    epoll: frozenset[int]  # epoll_wait, epoll_pwait(2): the epoll descriptor
    child: frozenset[int]  # wait4, waitid: a child process


WAIT_CALLS = {
    "x86_64": WaitCalls(
        "x86_64",
        on_fd=frozenset({0, 1, 17, 18, 19, 20, 42, 43, 44, 45, 46, 47, 288, 295, 296, 299}),
        poll=frozenset({7, 271}),
        select=frozenset({23, 270}),
        epoll=frozenset({232, 281, 441}),
        child=frozenset({61, 247}),
    ),
    "aarch64": WaitCalls(
        "aarch64",
        on_fd=frozenset({63, 64, 65, 66, 67, 68, 69, 70, 202, 203, 206, 207, 211, 212, 242, 243}),
        poll=frozenset({73}),
        select=frozenset({72}),
        epoll=frozenset({22, 441}),
        child=frozenset({95, 260}),
    ),
}
WAIT_CALLS["amd64"] = WAIT_CALLS["x86_64"]
WAIT_CALLS["arm64"] = WAIT_CALLS["aarch64"]
HOST_WAIT_CALLS = WAIT_CALLS.get(
    platform.machine().lower(),
    WaitCalls(platform.machine(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset()),
)


def syscall_args(text: str) -> list[int]:
    """The arguments of the call in a ``/proc/.../syscall`` line (number, six args, sp, pc)."""
    parts = text.split()
    try:
        return [int(a, 16) for a in parts[1:7]]
    except ValueError:
        return []


def parse_fd_link(link: str) -> tuple[str, int]:
    """(kind, inode) of a descriptor's link: pipe or socket with its inode, else the kind."""
    for kind in ("pipe", "socket"):
        if link.startswith(kind + ":["):
            return kind, int(link[len(kind) + 2 : -1])
    if link.startswith("anon_inode:"):
        return "anon", 0  # eventfd, timerfd, epoll, signalfd: the process's own machinery
    return "file", 0  # a file, a terminal, a device


def epoll_targets(fdinfo: str) -> list[int]:
    """The descriptors an epoll set watches, from its ``/proc/<pid>/fdinfo`` text."""
    fds = []
    for line in fdinfo.splitlines():
        if line.startswith("tfd:"):
            fds.append(int(line.split()[1]))
    return fds


def poll_fds(raw: bytes) -> list[int]:
    """The descriptors of a ``struct pollfd`` array (int fd, short events, short revents)."""
    return [fd for (fd, _events, _revents) in struct.iter_unpack("=ihh", raw) if fd >= 0]


def select_fds(raw: bytes) -> list[int]:
    """The descriptors set in an ``fd_set`` bitmap (bit n of the array is descriptor n)."""
    return [i * 8 + bit for i, byte in enumerate(raw) for bit in range(8) if byte >> bit & 1]


@dataclass(frozen=True, slots=True)
class Sockets:
    """What the kernel says of the host's sockets: each connected socket's peer (inode to
    inode), and the *server ends*: connections a listener accepted (a unix socket named as a
    listening one; a TCP socket on a listening port)."""

    peers: dict[int, int]
    server_ends: frozenset[int] = frozenset()
    #: Connected sockets whose other end waits in a listener's backlog, not accepted yet (it
    #: has no inode until it is), to the listening socket's inode: the server that will hold
    #: it is not known yet.
    awaiting_accept: dict[int, int] = field(default_factory=dict)


#: The kernel's socket states (``include/net/tcp_states.h``), shared by unix sockets.
TCP_ESTABLISHED = 1
TCP_LISTEN = 10


def unix_sockets() -> Sockets:
    """Every unix socket's peer, name and state, from the kernel's sock_diag (nothing where
    the kernel refuses it: such sockets then read as external)."""
    netlink_sock_diag = 4
    sock_diag_by_family = 20
    nlm_f_request, nlm_f_dump = 0x1, 0x300
    udiag_show_name, udiag_show_peer = 0x1, 0x4
    show = udiag_show_name | udiag_show_peer
    # struct unix_diag_req: family, protocol, pad, states (all), inode, show, cookie[2]
    request = struct.pack("=BBHIIIII", socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, show, 0, 0)
    header = struct.pack(
        "=IHHII", 16 + len(request), sock_diag_by_family, nlm_f_request | nlm_f_dump, 1, 0
    )
    found: list[UnixSocket] = []
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, netlink_sock_diag) as nl:
            nl.settimeout(1.0)
            nl.send(header + request)
            done = False
            while not done:
                data = nl.recv(65536)
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind in (2, 3) or length < 16:  # NLMSG_ERROR, NLMSG_DONE
                        done = True
                        break
                    one = unix_socket_of(data[offset + 16 : offset + length])
                    if one is not None:
                        found.append(one)
                    offset += (length + 3) & ~3
    except OSError:
        pass
    return sockets_of_unix(found)


@dataclass(frozen=True, slots=True)
class UnixSocket:
    inode: int
    state: int
    name: bytes | None
    peer: int | None


def unix_socket_of(message: bytes) -> UnixSocket | None:
    """One ``unix_diag_msg`` (family, type, state, pad, inode, cookie) and its attributes."""
    unix_diag_name, unix_diag_peer = 0, 2
    if len(message) < 16:
        return None
    state = message[2]
    inode = struct.unpack_from("=I", message, 4)[0]
    name: bytes | None = None
    peer: int | None = None
    offset = 16
    while offset + 4 <= len(message):
        length, kind = struct.unpack_from("=HH", message, offset)
        if length < 4:
            break
        if kind == unix_diag_peer and length >= 8:
            peer = struct.unpack_from("=I", message, offset + 4)[0]
        elif kind == unix_diag_name:
            name = bytes(message[offset + 4 : offset + length])
        offset += (length + 3) & ~3
    return UnixSocket(inode, state, name, peer)


def sockets_of_unix(found: Iterable[UnixSocket]) -> Sockets:
    """An accepted unix connection carries its listener's name; the client end has none of
    its own (or another one)."""
    found = list(found)
    listening = {s.inode for s in found if s.state == TCP_LISTEN}
    names = {s.name for s in found if s.state == TCP_LISTEN and s.name}
    return Sockets(
        peers={s.inode: s.peer for s in found if s.peer},
        server_ends=frozenset(
            s.inode
            for s in found
            if s.state == TCP_ESTABLISHED and s.name in names and s.inode not in listening
        ),
    )


def loopback_sockets(tables: Iterable[str]) -> Sockets:
    """TCP sockets connected over loopback, inode to the inode of the other end, from the
    text of ``/proc/net/tcp`` and ``tcp6`` (a peer is the socket with the two addresses
    swapped), and the connections accepted on a listening port. Sockets to other addresses
    have no peer: they are external."""
    by_ends: dict[tuple[str, str], int] = {}
    ports: dict[str, int] = {}
    established: list[tuple[str, int]] = []
    backlog: set[tuple[str, str]] = set()
    for text in tables:
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) <= 9:
                continue
            inode = int(fields[9])
            state = int(fields[3], 16)
            port = fields[1].rsplit(":", 1)[-1]
            if inode == 0:  # connected, not accepted yet (or closing)
                if state == TCP_ESTABLISHED:
                    backlog.add((fields[1], fields[2]))
                continue
            if state == TCP_LISTEN:
                ports[port] = inode
                continue
            by_ends[(fields[1], fields[2])] = inode
            if state == TCP_ESTABLISHED:
                established.append((port, inode))
    return Sockets(
        peers={
            inode: by_ends[(remote, local)]
            for (local, remote), inode in by_ends.items()
            if (remote, local) in by_ends
        },
        server_ends=frozenset(inode for port, inode in established if port in ports),
        awaiting_accept={
            inode: ports[remote.rsplit(":", 1)[-1]]
            for (local, remote), inode in by_ends.items()
            if (remote, local) in backlog and remote.rsplit(":", 1)[-1] in ports
        },
    )


class TreeEnds:
    """Judges a blocked thread's wait: on the tree itself (True), on I/O (False), or unknown.

    ``tree_pids`` names the processes followed now. Judgements are cached per descriptor and
    link; the index of who in the tree holds which pipe or socket is rebuilt when a judgement
    needs it and it is older than `JUDGEMENT_TTL_S`.
    """

    def __init__(
        self,
        tree_pids: Callable[[], Iterable[int]],
        calls: WaitCalls = HOST_WAIT_CALLS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tree_pids = tree_pids
        self.calls = calls
        self.clock = clock
        self._judged: dict[tuple[int, int, str], tuple[float, str]] = {}
        self._holders: dict[int, list[tuple[int, int]]] = {}
        self._unix = Sockets({})
        self._tcp = Sockets({})
        self._index_at = -1e9  # never built
        #: Processes of the tree seen holding the accepted end of a connection that another
        #: process of the tree waited on: servers the tree runs.
        self.serving_pids: set[int] = set()
        self._mem: dict[int, int] = {}
        #: How many waits were judged and how many times the tree's index was rebuilt.
        self.judged = 0
        self.rebuilds = 0

    def waits_on_tree(self, pid: int, number: int, args: list[int]) -> bool | None:
        """True when everything the call waits on leads into the tree, False when any of it
        leads out, None when the call waits on nothing this can name."""
        calls = self.calls
        if number in calls.child:
            return True  # wait4/waitid: only a child of this process can be waited for
        fds = self._fds(pid, number, args)
        if not fds:
            return None
        self.judged += 1
        kinds = {self._judge(pid, fd) for fd in fds[:MAX_FDS_PER_WAIT]}
        if EXTERNAL in kinds:
            return False
        return True if INTERNAL in kinds else None

    def tree_changed(self) -> None:
        """A process joined the tree: what led out of it may lead into it now."""
        self._index_at = -1e9
        self._judged = {k: v for k, v in self._judged.items() if v[1] != EXTERNAL}

    def judgements_of(self, pid: int) -> int:
        """How many of a process's descriptors have a judgement kept."""
        return sum(1 for key in self._judged if key[0] == pid)

    def forget(self, pid: int) -> None:
        """A process left the tree: its memory is closed and its judgements dropped."""
        fd = self._mem.pop(pid, None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        self._judged = {k: v for k, v in self._judged.items() if k[0] != pid}

    def close(self) -> None:
        for fd in self._mem.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._mem.clear()

    # -- what a call waits on ----------------------------------------------------------------

    def _fds(self, pid: int, number: int, args: list[int]) -> list[int]:
        calls = self.calls
        if len(args) < 3:
            return []
        if number in calls.on_fd:
            return [args[0]]
        if number in calls.epoll:
            try:
                with open(f"/proc/{pid}/fdinfo/{args[0]}") as info:
                    return epoll_targets(info.read())
            except (OSError, ValueError):
                return []
        if number in calls.poll:
            count = min(args[1], MAX_FDS_PER_WAIT)
            raw = self._read(pid, args[0], 8 * count)
            return poll_fds(raw) if raw else []
        if number in calls.select:
            size = (min(args[0], 1024) + 7) // 8
            fds: list[int] = []
            for pointer in (args[1], args[2]):
                raw = self._read(pid, pointer, size) if pointer else b""
                fds += select_fds(raw)
            return fds
        return []

    def _read(self, pid: int, address: int, size: int) -> bytes:
        if size <= 0:
            return b""
        fd = self._mem.get(pid)
        try:
            if fd is None:
                fd = self._mem[pid] = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
            return os.pread(fd, size, address)
        except OSError:
            return b""

    # -- where a descriptor leads ------------------------------------------------------------

    def _judge(self, pid: int, fd: int) -> str:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            return NEUTRAL
        now = self.clock()
        known = self._judged.get((pid, fd, link))
        if known is not None and now < known[0]:
            return known[1]
        kind, inode = parse_fd_link(link)
        ttl = JUDGEMENT_TTL_S
        if kind == "file":
            judgement = EXTERNAL
        elif kind == "anon":
            judgement = NEUTRAL
        else:
            judgement = self._judge_inode(kind, inode, pid, fd)
            if judgement == EXTERNAL and now - self._index_at >= REINDEX_S:
                self._rebuild(now)  # the other end may be in a process found since
                judgement = self._judge_inode(kind, inode, pid, fd)
            if judgement == EXTERNAL:
                ttl = RECHECK_S
        if len(self._judged) >= MAX_JUDGEMENTS:
            self._judged.clear()
        self._judged[(pid, fd, link)] = (now + ttl, judgement)
        return judgement

    def _judge_inode(self, kind: str, inode: int, pid: int, fd: int) -> str:
        if kind == "pipe":
            # both ends of a pipe link to the same inode: another holder is the other end
            others = [h for h in self._holders.get(inode, []) if h != (pid, fd)]
            return INTERNAL if others else EXTERNAL
        peer = self._unix.peers.get(inode) or self._tcp.peers.get(inode)
        if peer is None:
            return EXTERNAL  # a listening socket, or one to another host
        if peer in self._unix.server_ends or peer in self._tcp.server_ends:
            # a connection to a server the tree runs (a local service standing in for
            # another host): waiting on it is I/O, as on any server's; who holds the
            # accepted end serves (a listening socket alone can be inherited by a fork)
            self.serving_pids.update(h for h, _fd in self._holders.get(peer, ()) if h != pid)
            return EXTERNAL
        return INTERNAL if peer in self._holders else EXTERNAL

    def _note_servers(self) -> None:
        """Who in the tree holds the accepted end of a connection another process of the
        tree holds the other end of: a server the tree runs (seen at each rebuild, whether
        or not a wait on it was judged while the connection lasted)."""
        for sockets in (self._unix, self._tcp):
            for end in sockets.server_ends:
                holders = self._holders.get(end)
                client = sockets.peers.get(end)
                if not holders or client is None:
                    continue
                clients = {pid for pid, _fd in self._holders.get(client, ())}
                self.serving_pids.update(pid for pid, _fd in holders if clients - {pid})

    def _rebuild(self, now: float) -> None:
        """Who in the tree holds which pipe and socket, and every socket's peer."""
        self.rebuilds += 1
        self._index_at = now
        holders: dict[int, list[tuple[int, int]]] = {}
        for tree_pid in list(self.tree_pids()):
            folder = f"/proc/{tree_pid}/fd"
            try:
                names = os.listdir(folder)
            except OSError:
                continue
            for name in names:
                try:
                    _kind, inode = parse_fd_link(os.readlink(f"{folder}/{name}"))
                except (OSError, ValueError):
                    continue
                if inode:
                    holders.setdefault(inode, []).append((tree_pid, int(name)))
        self._holders = holders
        self._unix = unix_sockets()
        tables = []
        for name in ("tcp", "tcp6"):
            try:
                with open(f"/proc/net/{name}") as table:
                    tables.append(table.read())
            except OSError:
                pass
        self._tcp = loopback_sockets(tables)
        self._note_servers()
        awaiting = any(
            client in holders and listener in holders
            for client, listener in self._tcp.awaiting_accept.items()
        )
        if awaiting and not self.serving_pids:
            # a server of the tree has yet to accept a connection the tree holds: look again
            # soon (a listener outside the tree never makes this so)
            self._index_at = now - REINDEX_S + AWAITING_ACCEPT_REINDEX_S
