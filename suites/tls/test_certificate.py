"""The edge's chain verifies against the CA that made it (build/certs/ca.crt for `make
certs`), and the certificate names the address users reach it at; a name it does not carry
is refused, so the name check is live."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest

from .edge import TIMEOUT_S, Edge

NOT_ITS_NAME = "not-the-edge.invalid"


def verified(edge: Edge, name: str) -> dict[str, Any]:
    with socket.create_connection((edge.host, edge.https_port), timeout=TIMEOUT_S) as raw, \
            edge.trust().wrap_socket(raw, server_hostname=name) as tls:
        return dict(tls.getpeercert() or {})


def test_chain_verifies_and_names_the_address(edge: Edge) -> None:
    try:
        cert = verified(edge, edge.host)
    except ssl.SSLCertVerificationError as exc:
        pytest.fail(f"{edge.https}: {exc.verify_message} (trusting {edge.ca_file or 'the system CAs'})", pytrace=False)
    names = [value for _, value in cert.get("subjectAltName", ())]
    assert edge.host in names, f"{edge.https}: the certificate names {names}"


def test_a_name_it_does_not_carry_is_refused(edge: Edge) -> None:
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        verified(edge, NOT_ITS_NAME)
    assert "hostname mismatch" in str(refused.value.verify_message).lower() or "match" in str(refused.value), (
        f"{edge.https} as {NOT_ITS_NAME}: refused for another reason: {refused.value}")
