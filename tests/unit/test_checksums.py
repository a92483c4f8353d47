"""The `sha256` and `integrity` attributes: parsed into one checksum, malformed values refused."""

from __future__ import annotations

import base64
import hashlib

import pytest

from kiln.repos.checksums import Checksum, ChecksumError, parse_checksum

DATA = b"kiln downloads\n"


def test_sha256_hex_is_lower_cased() -> None:
    hex_ = hashlib.sha256(DATA).hexdigest()
    assert parse_checksum(sha256=hex_.upper()) == Checksum("sha256", hex_)


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_integrity_of_each_sri_algorithm(algorithm: str) -> None:
    digest = hashlib.new(algorithm, DATA).digest()
    sri = f"{algorithm}-{base64.b64encode(digest).decode()}"
    checksum = parse_checksum(integrity=sri)
    assert checksum == Checksum(algorithm, digest.hex())
    assert checksum.integrity() == sri


def test_neither_gives_no_checksum() -> None:
    assert parse_checksum() is None


@pytest.mark.parametrize("sha256, integrity, message", [
    ("abc", "", "invalid sha256 'abc': expected 64 hexadecimal digits"),
    ("z" * 64, "", f"invalid sha256 '{'z' * 64}': expected 64 hexadecimal digits"),
    ("", "md5-1B2M2Y8AsgTpgAmY7PhCfg==",
     "invalid integrity 'md5-1B2M2Y8AsgTpgAmY7PhCfg==': expected sha256-, sha384- or sha512- followed by the base64 digest"),
    ("", "sha256-not*base64", "invalid integrity 'sha256-not*base64': the digest is not base64"),
    ("", "sha384-" + base64.b64encode(b"\0" * 32).decode(),
     "invalid integrity 'sha384-" + base64.b64encode(b"\0" * 32).decode() + "': a sha384 digest has 48 bytes, this one 32"),
    ("a" * 64, "sha256-" + base64.b64encode(b"\0" * 32).decode(), "give either sha256 or integrity, not both"),
])
def test_malformed_values_are_refused(sha256: str, integrity: str, message: str) -> None:
    with pytest.raises(ChecksumError) as e:
        parse_checksum(sha256=sha256, integrity=integrity)
    assert e.value.render() == message
