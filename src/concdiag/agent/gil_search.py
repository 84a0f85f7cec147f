"""Inside the target, on 3.10-3.12: find the interpreter's GIL state in our own memory.

Loaded by the bootstrap (by path, standard library only) before the script runs; on 3.13+
concdiag reads the interpreter's debug offsets from outside instead. See docs/measurement.md,
"GIL holder".
"""

import sys


def _region_of(address):
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            if start <= address < end:
                return start, end
    return None


def _named_base(address):
    """(path, base) of the file mapping that holds or precedes ``address``."""
    path = None
    bases = {}
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) >= 6 else ""
            if name.startswith("/"):
                bases.setdefault(name, start)
                if start <= address:
                    path = name
            if start <= address < end:
                break
    if path is None:
        return None, None
    return path, bases[path]


def find_gil():
    """Locate the GIL state (interval, last_holder, locked, switch_number) in our memory.

    The layout of ``struct _gil_runtime_state`` starts with the switch interval in
    microseconds followed by the last holder's thread state, in 3.10 to 3.13. We set a
    distinctive switch interval for a moment and search the runtime state for it next to our
    own thread state pointer, which makes the match unambiguous without version tables.
    """
    import ctypes
    import struct
    import threading

    info = {"gil_addr": None, "tstate_native_off": None, "tstate_ident_off": None}
    runtime = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
    get_tstate = ctypes.pythonapi.PyThreadState_Get
    get_tstate.restype = ctypes.c_void_p
    tstate = get_tstate()
    region = _region_of(runtime)
    if region is None:
        return info
    size = min(region[1] - runtime, 8 << 20)
    old = sys.getswitchinterval()
    marker_us = 4321
    sys.setswitchinterval(marker_us / 1e6)
    try:
        memory = ctypes.string_at(runtime, size)
        at = memory.find(struct.pack("<QQ", marker_us, tstate))
        found = []
        while at >= 0:
            if at % 8 == 0:
                found.append(at)
            at = memory.find(struct.pack("<QQ", marker_us, tstate), at + 1)
    finally:
        sys.setswitchinterval(old)
    if len(found) != 1:
        return info
    gil_addr = runtime + found[0]
    info["gil_addr"] = gil_addr
    path, base = _named_base(gil_addr)
    if path is not None:
        info["gil_mapping"] = path
        info["gil_offset"] = gil_addr - base
    tstate_memory = ctypes.string_at(tstate, 1024)
    native = tstate_memory.find(struct.pack("<Q", threading.get_native_id()))
    ident = tstate_memory.find(struct.pack("<Q", threading.get_ident()))
    if sys.version_info >= (3, 11) and native >= 0 and native % 8 == 0:
        info["tstate_native_off"] = native
    if ident >= 0 and ident % 8 == 0:
        info["tstate_ident_off"] = ident
    return info
