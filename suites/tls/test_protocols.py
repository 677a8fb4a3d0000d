"""The edge speaks TLS 1.2 and 1.3 only, and for TLS 1.2 only forward-secret AEAD ciphers.

Old protocols are offered by a client that is shown, against a local server that allows
them, to complete such a handshake: so the edge's refusal is the edge's, not this client's
OpenSSL declining to offer TLS 1.0."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .edge import ANY_CIPHER, Edge, handshake, set_versions

OLD = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]
CURRENT = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


@pytest.fixture(scope="module")
def permissive_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A loopback TLS server that accepts TLS 1.0 and up: the control for the client."""
    where = tmp_path_factory.mktemp("control")
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", "/CN=control", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_versions(context, ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED)
    context.set_ciphers(ANY_CIPHER)
    context.load_cert_chain(Path(cert), Path(key))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "127.0.0.1", listener.getsockname()[1]
    done.set()
    thread.join(timeout=2)
    listener.close()


@pytest.mark.parametrize("version", OLD, ids=lambda v: v.name)
def test_old_protocol_is_refused(edge: Edge, permissive_server: tuple[str, int], version: ssl.TLSVersion) -> None:
    control = handshake(*permissive_server, version, version)
    assert control.version == version.name.replace("_", "."), (
        f"control: this client cannot complete a {version.name} handshake even with a server that allows it "
        f"({control}); the edge's answer would mean nothing")
    seen = handshake(edge.host, edge.https_port, version, version)
    assert not seen.ok, f"{edge.https} accepted {seen.version} with {seen.cipher}"
    # The server's own word: a protocol_version alert (not a reset, not this client's refusal).
    assert "PROTOCOL_VERSION" in seen.error.upper(), f"{edge.https} refused {version.name} oddly: {seen.error}"


@pytest.mark.parametrize("version", CURRENT, ids=lambda v: v.name)
def test_current_protocol_is_accepted(edge: Edge, version: ssl.TLSVersion, record_property: Any) -> None:
    seen = handshake(edge.host, edge.https_port, version, version)
    record_property(f"{version.name}_cipher", seen.cipher)
    assert seen.version == version.name.replace("_", "."), f"{edge.https} with only {version.name} offered: {seen}"


def client_tls12_ciphers() -> list[ssl._Cipher]:
    """Every TLS 1.2-and-below cipher this client's OpenSSL can offer."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers(ANY_CIPHER)
    return [c for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"]


def test_tls12_offers_only_forward_secret_aead_ciphers(edge: Edge, record_property: Any) -> None:
    offered = client_tls12_ciphers()
    assert len(offered) > 20, f"this client offers too few ciphers to survey the edge: {[c['name'] for c in offered]}"
    accepted = [c for c in offered
                if handshake(edge.host, edge.https_port, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, c["name"]).ok]
    record_property("tls12_ciphers_accepted", " ".join(c["name"] for c in accepted))
    assert accepted, f"{edge.https} accepted none of {len(offered)} TLS 1.2 ciphers"
    weak = [c["name"] for c in accepted if not (c["aead"] and c["kea"] == "kx-ecdhe")]
    assert not weak, f"{edge.https} accepts TLS 1.2 ciphers without ECDHE or AEAD: {weak}"
