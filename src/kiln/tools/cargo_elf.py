"""Exported symbols of a shared library, read in Python (no nm or readelf).

ELF files are read properly: the section headers lead to `.dynsym` and its
string table, and a symbol counts when it is defined, global (or weak) and
visible. Other formats (Mach-O, PE) fall back to scanning the bytes for names.
"""

from __future__ import annotations

import re
import struct

_ELF_MAGIC = b"\x7fELF"
SHT_DYNSYM = 11
_STB_EXPORTED = {1, 2, 10}          # GLOBAL, WEAK, GNU_UNIQUE
_VISIBLE = {0, 3}                   # STV_DEFAULT, STV_PROTECTED


class ElfError(ValueError):
    pass


def _layout(ident: bytes):
    if ident[4] == 2:
        elf_class = 64
    elif ident[4] == 1:
        elf_class = 32
    else:
        raise ElfError(f"unknown ELF class {ident[4]}")
    if ident[5] == 1:
        order = "<"
    elif ident[5] == 2:
        order = ">"
    else:
        raise ElfError(f"unknown ELF byte order {ident[5]}")
    if elf_class == 64:
        return order, order + "HHIQQQIHHHHHH", order + "IIQQQQIIQQ", order + "IBBHQQ", 64
    return order, order + "HHIIIIIHHHHHH", order + "IIIIIIIIII", order + "IIIBBH", 32


def elf_dynamic_symbols(path: str) -> list[str]:
    """Names of the symbols the ELF file at `path` exports from its dynamic symbol table."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != _ELF_MAGIC:
            raise ElfError(f"{path} is not an ELF file")
        _, ehdr_fmt, shdr_fmt, sym_fmt, bits = _layout(ident)
        ehdr = struct.unpack(ehdr_fmt, f.read(struct.calcsize(ehdr_fmt)))
        shoff, shentsize, shnum = ehdr[5], ehdr[10], ehdr[11]
        if shoff == 0:
            raise ElfError(f"{path} has no section headers")

        def section(index: int):
            f.seek(shoff + index * shentsize)
            fields = struct.unpack(shdr_fmt, f.read(struct.calcsize(shdr_fmt)))
            return fields[1], fields[4], fields[5], fields[6], fields[9]   # type, offset, size, link, entsize

        if shnum == 0:                      # more than 0xff00 sections: the count is in section 0
            shnum = section(0)[2]
        symbols: list[str] = []
        for i in range(shnum):
            sh_type, offset, size, link, entsize = section(i)
            if sh_type != SHT_DYNSYM:
                continue
            _, str_off, str_size, _, _ = section(link)
            f.seek(str_off)
            strtab = f.read(str_size)
            f.seek(offset)
            table = f.read(size)
            entsize = entsize or struct.calcsize(sym_fmt)
            for pos in range(entsize, len(table) - entsize + 1, entsize):   # entry 0 is the null symbol
                fields = struct.unpack_from(sym_fmt, table, pos)
                if bits == 64:
                    name, info, other, shndx = fields[0], fields[1], fields[2], fields[3]
                else:
                    name, info, other, shndx = fields[0], fields[3], fields[4], fields[5]
                if shndx == 0 or (info >> 4) not in _STB_EXPORTED or (other & 3) not in _VISIBLE:
                    continue
                end = strtab.find(b"\0", name)
                symbols.append(strtab[name:end if end >= 0 else None].decode("utf-8", "replace"))
        return symbols


def pyinit_symbols(path: str) -> list[str]:
    """The `PyInit_*` functions a Python extension module at `path` exports, sorted."""
    try:
        names = elf_dynamic_symbols(path)
    except ElfError:
        # Not ELF (or without sections): Mach-O spells the symbol `_PyInit_x`.
        with open(path, "rb") as f:
            data = f.read()
        names = [m.decode() for m in re.findall(rb"(?<![A-Za-z0-9])_?(PyInit_[A-Za-z_][A-Za-z0-9_]*)\0", data)]
    return sorted({n for n in names if n.startswith("PyInit_")})
