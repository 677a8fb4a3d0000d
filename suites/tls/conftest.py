"""The tls layer runs only where the edge does (compose/edge.yaml, `make up EDGE=1`): with
no edge every test here skips, saying so. An edge that is declared but not answering fails."""

from __future__ import annotations

import pytest

from fixtures.stack import Stack, StackError

from .edge import HTTP_PORT, HTTPS_PORT, Edge, ca_for


@pytest.fixture(scope="session")
def edge(stack: Stack) -> Edge:
    if "edge" not in stack.services():
        pytest.skip(f"{stack.target} runs no edge (TLS in front of the gateway is opt-in: "
                    "make up EDGE=1, or -f compose/edge.yaml)")
    try:
        host, https_port = stack.address("edge", HTTPS_PORT)
        _, http_port = stack.address("edge", HTTP_PORT)
    except StackError as exc:
        pytest.fail(f"the edge is declared but has no address: {exc}", pytrace=False)
    return Edge(host, http_port, https_port, ca_for(stack))
