"""grpcs:// endpoints: the server is verified against the given roots, and a client pair is presented."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest
from kiln.execution.remote_client.capabilities import get_capabilities
from kiln.execution.remote_client.channel import Connection
from kiln.execution.remote_client.endpoint import RemoteError, RemoteOptions, TlsFiles
from .conftest import unavailable
from .fake_servers import Capabilities, capabilities, serve


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A self-signed certificate for localhost and its key (it serves as its own CA)."""
    if shutil.which("openssl") is None:
        unavailable("openssl is not installed: the TLS tests make their certificate with it")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def server_credentials(pair, require_client: bool = False) -> grpc.ServerCredentials:
    cert, key = (path.read_bytes() for path in pair)
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=cert if require_client else None,
                                       require_client_auth=require_client)


def capabilities_over(url: str, tls: TlsFiles):
    with Connection(RemoteOptions(url, retries=0, timeout_s=10, tls=tls)) as connection:
        return get_capabilities(connection)


def test_a_server_whose_certificate_the_given_roots_sign_is_reached(pair):
    with serve(Capabilities(capabilities()), credentials=server_credentials(pair)) as url:
        assert "SHA256" in capabilities_over(url, TlsFiles(certificate=pair[0])).digest_functions


def test_a_server_the_system_roots_do_not_trust_is_refused(pair):
    with serve(Capabilities(capabilities()), credentials=server_credentials(pair)) as url:
        with pytest.raises(RemoteError) as failure:
            capabilities_over(url, TlsFiles())
    assert failure.value.render().startswith(f"remote {url}: GetCapabilities failed: UNAVAILABLE: ")


def test_a_server_that_requires_a_client_certificate_gets_the_given_pair(pair):
    cert, key = pair
    with serve(Capabilities(capabilities()), credentials=server_credentials(pair, require_client=True)) as url:
        with pytest.raises(RemoteError, match="UNAVAILABLE"):
            capabilities_over(url, TlsFiles(certificate=cert))
        assert capabilities_over(url, TlsFiles(certificate=cert, client_certificate=cert, client_key=key)).digest_functions == {"SHA256"}
