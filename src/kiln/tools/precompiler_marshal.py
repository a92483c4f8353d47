"""Canonical marshal streams for kiln's precompiler (CPython before 3.11, PyPy): imported by precompiler.py only
there, from the same directory; standard library only, as the precompiler.
"""

from __future__ import annotations

import sys

# ---- canonical marshal streams (CPython < 3.11, PyPy) ----
# CPython before 3.11 marks an object FLAG_REF when its reference count is above 1, which depends on what
# else the process holds, and writes a frozenset in hash order; PyPy and CPython mark a string interned when
# the process happens to have interned it (a PyPy worker that imported threading interns "Thread"). Parsing
# the stream into its object graph and writing it back with FLAG_REF exactly on the objects used more than
# once, frozensets sorted and strings interned when they look like names (CPython's compiler's rule) gives
# one stream per code object, which loads into equal code.

FLAG_REF = 0x80
# Code objects: (bytes of int32 fields, objects, bytes of int32 fields, objects).
CODE_LAYOUT = (24, 8, 4, 1) if sys.version_info < (3, 11) else (20, 8, 4, 2)
_INTERNED = {"z": "Z", "a": "A", "u": "t", "Z": "Z", "A": "A", "t": "t"}
_PLAIN = {interned: plain for plain, interned in _INTERNED.items() if plain != interned}


class _Node:
    __slots__ = ("kind", "parts")

    def __init__(self, kind):
        self.kind, self.parts = kind, []


def _name_like(raw):
    return raw.replace(b"_", b"a").isalnum() or not raw  # bytes.isalnum is ASCII-only, as CPython's rule


class _MarshalReader:
    def __init__(self, data):
        self.data, self.pos, self.refs, self.names = data, 0, [], {}

    def take(self, n):
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def sized(self, width, signed=False):
        raw = self.take(width)
        return raw, abs(int.from_bytes(raw, "little", signed=signed))

    def read(self):
        code = self.data[self.pos]
        self.pos += 1
        kind = chr(code & ~FLAG_REF)
        if kind == "r":
            return self.refs[int.from_bytes(self.take(4), "little")]
        node = _Node(code & ~FLAG_REF)
        if code & FLAG_REF:  # indices are given in pre-order, before any child is read
            self.refs.append(node)
        parts = node.parts
        if kind in "0NFTS.":
            pass
        elif kind in "ig":
            parts.append(self.take(4 if kind == "i" else 8))
        elif kind == "y":
            parts.append(self.take(16))
        elif kind == "l":  # the sign of its digit count is the number's
            raw, n = self.sized(4, signed=True)
            parts += [raw, self.take(2 * n)]
        elif kind in "stuaAzZf":
            raw, n = self.sized(1 if kind in "zZf" else 4)
            parts += [raw, self.take(n)]
            if kind in _INTERNED:
                return self.intern(node, code)
        elif kind == "x":
            for _ in range(2):
                raw, n = self.sized(1)
                parts += [raw, self.take(n)]
        elif kind in ")([<>":
            raw, n = self.sized(1 if kind == ")" else 4)
            parts.append(raw)
            parts += [self.read() for _ in range(n)]
        elif kind == "{":
            while True:
                key = self.read()
                parts.append(key)
                if key.kind == ord("0"):
                    break
                parts.append(self.read())
        elif kind == "c":
            head, objects, middle, tail = CODE_LAYOUT
            parts.append(self.take(head))
            parts += [self.read() for _ in range(objects)]
            parts.append(self.take(middle))
            parts += [self.read() for _ in range(tail)]
        else:
            raise ValueError("marshal type %r at offset %d" % (kind, self.pos - 1))
        return node

    def intern(self, node, code):
        """One node for all equal name-like strings, marked interned; other strings marked plain."""
        kind, text = chr(node.kind), node.parts[1]
        if not _name_like(text):
            node.kind = ord(_PLAIN.get(kind, kind))
            return node
        node.kind = ord(_INTERNED[kind])
        shared = self.names.setdefault(text, node)
        if shared is not node and code & FLAG_REF:
            self.refs[-1] = shared
        return shared


def canonical_marshal(data):
    root = _MarshalReader(data).read()
    uses = {}
    _count_uses(root, uses)
    out = bytearray()
    _emit(root, uses, {}, out)
    return bytes(out)


def _count_uses(node, uses):
    seen = id(node) in uses
    uses[id(node)] = uses.get(id(node), 0) + 1
    if not seen:
        for part in node.parts:
            if part.__class__ is _Node:
                _count_uses(part, uses)


def _emit(node, uses, index, out):
    if id(node) in index:
        out += b"r" + index[id(node)].to_bytes(4, "little")
        return
    parts = node.parts
    if uses is not None and uses[id(node)] > 1:
        index[id(node)] = len(index)
        out.append(node.kind | FLAG_REF)
    else:
        out.append(node.kind)
    if node.kind == ord(">"):
        parts = [parts[0]] + sorted(parts[1:], key=_value_bytes)
    for part in parts:
        if part.__class__ is _Node:
            _emit(part, uses, index, out)
        else:
            out += part


def _value_bytes(node):
    """The node written without sharing: equal only for equal values, whatever the process held."""
    out = bytearray()
    _emit(node, None, {}, out)
    return bytes(out)
