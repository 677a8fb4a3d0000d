"""The edge as the tls layer reaches it: where it answers, which CA vouches for it, and one
TLS handshake at a time with the protocol versions and ciphers a test asks for.

Only the ``ssl`` module: what a client offers is set on the client's context, so a refusal
is the server's (the control in test_protocols.py shows this client can speak what the edge
refuses)."""

from __future__ import annotations

import socket
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from fixtures.services import SERVICES, port
from fixtures.stack import ComposeStack, Stack

# Container ports (images/edge/nginx.conf), published as 80 and 443.
HTTPS_PORT = port("edge")
(HTTP_PORT,) = SERVICES["edge"].other_ports
CERT_MOUNT = "/etc/nginx/certs"
ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CA = ROOT / "build" / "certs" / "ca.crt"
TIMEOUT_S = 5.0
# OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 handshake signatures) above security level 0: the
# client must be allowed to offer them for the server's answer to mean anything.
ANY_CIPHER = "ALL:@SECLEVEL=0"


@dataclass(frozen=True)
class Edge:
    host: str           # what a user connects to (the published address)
    http_port: int      # published ports on the host
    https_port: int
    ca_file: Path | None  # None: the system's trust store (a public CA, production)

    @property
    def https(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def trust(self) -> ssl.SSLContext:
        """A client context that verifies the chain and the name, as any client would."""
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


def ca_for(stack: Stack) -> Path | None:
    """The CA that made the certificate the edge serves: ``ca.crt`` next to the directory
    compose mounts at /etc/nginx/certs (build/certs/edge -> build/certs/ca.crt, `make certs`);
    a target listing ``EDGE_CA_FILE`` names its own; else None (a public CA)."""
    listed = stack.env().get("EDGE_CA_FILE")
    if listed:
        return Path(listed)
    if isinstance(stack, ComposeStack):
        for volume in stack.declared_config()["services"]["edge"].get("volumes") or []:
            if volume.get("target") == CERT_MOUNT:
                ca = Path(volume["source"]).parent / "ca.crt"
                return ca if ca.exists() else None
    return DEFAULT_CA if DEFAULT_CA.exists() else None


def set_versions(context: ssl.SSLContext, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion) -> None:
    """Python deprecates naming TLS 1.0/1.1 at all; offering them is this layer's point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = minimum
        context.maximum_version = maximum


@dataclass(frozen=True)
class Handshake:
    version: str | None   # negotiated protocol, None when refused
    cipher: str | None
    error: str            # why not, as OpenSSL put it ("" when it succeeded)

    @property
    def ok(self) -> bool:
        return self.version is not None


def handshake(host: str, port: int, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion,
              ciphers: str = ANY_CIPHER) -> Handshake:
    """One handshake offering only ``minimum``..``maximum`` and ``ciphers`` (TLS 1.2 and
    below; TLS 1.3's suites are OpenSSL's defaults). No verification: this is about what
    the server agrees to speak; test_certificate.py verifies."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    set_versions(context, minimum, maximum)
    context.set_ciphers(ciphers)
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_S) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            cipher = tls.cipher()
            return Handshake(tls.version(), cipher[0] if cipher else None, "")
    except ssl.SSLError as exc:
        return Handshake(None, None, f"{exc.reason or exc}")
    except (ConnectionResetError, ConnectionAbortedError) as exc:
        # Some servers drop the connection instead of sending an alert.
        return Handshake(None, None, f"{type(exc).__name__}: {exc}")
