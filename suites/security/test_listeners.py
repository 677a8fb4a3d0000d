"""No container listens on a TCP port it does not declare.

Read from inside each container (``/proc/net/tcp*``: minimal images have no ``ss``), since
a listener nobody published is still open to every container on the network: the object
store role, bound to 0.0.0.0, would hand out admin keys on its IAM port. Loopback listeners
(127.0.0.0/8, ::1, Docker's DNS on 127.0.0.11) are out of the network's reach and ignored.
"""

from __future__ import annotations

import ipaddress

import testinfra

from fixtures.per_service import service_container
from fixtures.services import SERVICES, listens_on
from fixtures.stack import ComposeStack

LISTEN = "0A"
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _address(hex_ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # The kernel prints each 32-bit word of the address in host byte order (little-endian here).
    raw = bytes.fromhex(hex_ip)
    return ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4)))


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def listeners(table: str) -> set[tuple[str, int]]:
    """(address, port) of every socket in LISTEN state in /proc/net/tcp* tables (header lines,
    whose fourth field is ``st``, never match)."""
    found = set()
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == LISTEN:
            hex_ip, _, hex_port = fields[1].partition(":")
            found.add((str(_address(hex_ip)), int(hex_port, 16)))
    return found


def test_listeners_parsed_from_proc() -> None:
    table = ("  sl  local_address rem_address   st\n"
             "   0: 0100007F:479D 00000000:0000 0A\n"      # 127.0.0.1:18333 listening
             "   1: 00000000:2328 00000000:0000 0A\n"      # 0.0.0.0:9000 listening
             "   2: 0200190A:C350 0300190A:0050 01\n"      # established: not a listener
             "   3: 00000000000000000000000001000000:2382 00000000000000000000000000000000:0000 0A\n")
    assert listeners(table) == {("127.0.0.1", 18333), ("0.0.0.0", 9000), ("::1", 9090)}


def test_listens_only_on_declared_ports(compose_stack: ComposeStack, service: str) -> None:
    container = service_container(compose_stack, service)
    host = testinfra.get_host(f"docker://{container.id}")
    # One exec for both tables; a kernel without IPv6 has no tcp6 (cat then exits 1, and
    # the control below still needs the IPv4 table to show the service's own port).
    tables = host.run(f"cat {' '.join(TABLES)}")
    found = listeners(tables.stdout)
    reachable = {(ip, port) for ip, port in found if not _is_loopback(ipaddress.ip_address(ip))}
    allowed = listens_on(service)  # the guide's ports, not what compose happens to expose
    undeclared = sorted((ip, port) for ip, port in reachable if port not in allowed)
    assert not undeclared, f"{service}: listens on undeclared ports {undeclared} (declared: {sorted(allowed)})"
    # The reading itself must see something: the service's own port, where it has one.
    own = SERVICES[service].port if service in SERVICES else None
    assert own is None or own in {port for _, port in reachable}, (
        f"{service}: its port {own} is not listening; listeners seen: {sorted(found)}"
    )
