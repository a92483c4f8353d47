"""Expected checksums of downloads: `sha256` (hex) and `integrity` (SRI) attributes.

A Checksum names an algorithm and a digest; the repository cache keys files by
it and the downloader verifies every file against it before anything uses it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from kiln.core.errors import KilnError

# SRI's algorithms that Bazel accepts, with their digest sizes in bytes.
_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_HEX = re.compile(r"[0-9a-fA-F]+")


class ChecksumError(KilnError):
    """A malformed `sha256` or `integrity` value."""


@dataclass(frozen=True)
class Checksum:
    algorithm: str  # "sha256" | "sha384" | "sha512"
    hex: str  # lower-case hex digest

    def new_hash(self) -> "hashlib._Hash":
        return hashlib.new(self.algorithm)

    def integrity(self) -> str:
        """The SRI form, as a user writes it in `integrity`."""
        return f"{self.algorithm}-{base64.b64encode(bytes.fromhex(self.hex)).decode()}"

    def as_written(self) -> str:
        """As a user writes it: hex for sha256 (the `sha256` attribute), SRI for the others."""
        return self.hex if self.algorithm == "sha256" else self.integrity()


def parse_checksum(sha256: str = "", integrity: str = "") -> Checksum | None:
    """The checksum a rule asked for, or None when it gave neither attribute."""
    if sha256 and integrity:
        raise ChecksumError("give either sha256 or integrity, not both")
    if sha256:
        if len(sha256) != 64 or not _HEX.fullmatch(sha256):
            raise ChecksumError(f"invalid sha256 '{sha256}': expected 64 hexadecimal digits")
        return Checksum("sha256", sha256.lower())
    if integrity:
        return _parse_sri(integrity)
    return None


def _parse_sri(integrity: str) -> Checksum:
    algorithm, sep, encoded = integrity.strip().partition("-")
    expected = "expected sha256-, sha384- or sha512- followed by the base64 digest"
    if not sep or algorithm not in _SIZES:
        raise ChecksumError(f"invalid integrity '{integrity}': {expected}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ChecksumError(f"invalid integrity '{integrity}': the digest is not base64") from None
    if len(raw) != _SIZES[algorithm]:
        raise ChecksumError(
            f"invalid integrity '{integrity}': a {algorithm} digest has {_SIZES[algorithm]} bytes, "
            f"this one {len(raw)}")
    return Checksum(algorithm, raw.hex())
