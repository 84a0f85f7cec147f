"""Find exported symbols in an ELF file and their addresses in a running process.

Attach mode has no bootstrap inside the target, so it finds the interpreter's runtime state
(``_PyRuntime``) and version (``Py_Version``) from outside: in the interpreter image mapped
into the process (the ``python`` executable or ``libpython3.X.so``) it looks for the
``.PyRuntime`` section (CPython places ``_PyRuntime`` alone in it: every build from 3.10
to 3.13 installed here has one, and 3.14 declares it for out-of-process readers; it is
found even in an image stripped of symbols), else the dynamic symbol table, and relocates
the address by the image's load address from ``/proc/PID/maps``. Only ELF64 little-endian
is handled (x86-64 and aarch64 Linux).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

SHT_DYNSYM = 11
PT_LOAD = 1
_PAGE = 0x1000
_LIBPYTHON = re.compile(r"libpython(\d)\.(\d+)")
_PYTHON_EXE = re.compile(r"python(\d)\.(\d+)")
_FREE_THREADED = re.compile(r"python\d\.\d+(t?)(?:\.so|$|-)")


class ElfError(Exception):
    """Not an ELF64 little-endian file, or a malformed one."""


@dataclass(frozen=True, slots=True)
class Mapping:
    start: int
    end: int
    offset: int
    path: str


#: The section CPython puts ``_PyRuntime`` in (3.14: ``GENERATE_DEBUG_SECTION``).
RUNTIME_SECTION = ".PyRuntime"
_Section = tuple[int, int, int, int, int, int, int, int, int, int]


def _read_elf(path: Path) -> tuple[bytes, list[_Section]]:
    """The file's bytes and its section headers (name, type, flags, addr, offset, size...)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ElfError(f"cannot read {path}: {exc.strerror}") from exc
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError(f"{path} is not a 64-bit little-endian ELF file")
    try:
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        sections = [
            struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
        ]
    except struct.error as exc:
        raise ElfError(f"{path}: malformed ELF ({exc})") from exc
    return data, sections


def section_address(path: Path, name: str) -> int | None:
    """Link-time address of the named section, or None when the image has none."""
    data, sections = _read_elf(path)
    try:
        (shstrndx,) = struct.unpack_from("<H", data, 0x3E)
        names_at = sections[shstrndx][4]
        for sh in sections:
            end = data.index(b"\0", names_at + sh[0])
            if data[names_at + sh[0] : end].decode("ascii", "replace") == name:
                return int(sh[3])
    except (struct.error, IndexError, ValueError) as exc:
        raise ElfError(f"{path}: malformed ELF ({exc})") from exc
    return None


def read_symbols(path: Path, names: set[str]) -> dict[str, int]:
    """Values (link-time addresses) of the wanted names found in ``.dynsym``."""
    data, sections = _read_elf(path)
    try:
        found: dict[str, int] = {}
        for sh in sections:
            if sh[1] != SHT_DYNSYM:
                continue
            _, _, _, _, sym_off, sym_size, link, _, _, entsize = sh
            strtab_off = sections[link][4]
            for i in range(sym_size // (entsize or 24)):
                st_name, _info, _other, _shndx, st_value, _size = struct.unpack_from(
                    "<IBBHQQ", data, sym_off + i * (entsize or 24)
                )
                if st_value == 0:
                    continue
                end = data.index(b"\0", strtab_off + st_name)
                name = data[strtab_off + st_name : end].decode("ascii", "replace")
                if name in names:
                    found[name] = st_value
        return found
    except (struct.error, IndexError, ValueError) as exc:
        raise ElfError(f"{path}: malformed ELF ({exc})") from exc


def first_load_vaddr(path: Path) -> int:
    """The page-aligned virtual address of the first loadable segment (0 for PIE and .so)."""
    with path.open("rb") as handle:
        header = handle.read(64)
        (phoff,) = struct.unpack_from("<Q", header, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        handle.seek(phoff)
        table = handle.read(phentsize * phnum)
    for i in range(phnum):
        p_type, _flags, _off, vaddr = struct.unpack_from("<IIQQ", table, i * phentsize)
        if p_type == PT_LOAD:
            return int(vaddr) & ~(_PAGE - 1)
    return 0


def read_maps(pid: int) -> list[Mapping]:
    """The file-backed mappings of a process (raises OSError when not permitted)."""
    mappings = []
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) < 6 or not parts[5].startswith("/"):
                continue
            start, end = (int(x, 16) for x in parts[0].split("-"))
            mappings.append(Mapping(start, end, int(parts[2], 16), parts[5].strip()))
    return mappings


def load_base(mappings: list[Mapping], path: str) -> int | None:
    """Where the file's offset 0 is mapped in the process."""
    for m in mappings:
        if m.path == path and m.offset == 0:
            return m.start
    return None


def interpreter_images(mappings: list[Mapping], exe: str) -> list[str]:
    """Mapped files that may hold the interpreter: libpython first, then the executable."""
    libs = [m.path for m in mappings if _LIBPYTHON.search(Path(m.path).name)]
    ordered = list(dict.fromkeys(libs))
    if exe not in ordered:
        ordered.append(exe)
    return ordered


def version_from_name(path: str) -> tuple[int, int] | None:
    """``libpython3.12.so`` or ``python3.12`` -> (3, 12); None when the name does not say."""
    name = Path(path).name
    match = _LIBPYTHON.search(name) or _PYTHON_EXE.search(name)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def free_threaded_from_name(path: str) -> bool | None:
    """``python3.14t`` / ``libpython3.14t.so`` -> True, ``python3.14`` -> False, else None."""
    match = _FREE_THREADED.search(Path(path).name)
    if match is None:
        return None
    return match.group(1) == "t"
