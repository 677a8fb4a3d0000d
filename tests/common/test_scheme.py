"""The scheme an access log records: the client's, as the first proxy (the edge) saw it."""
from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from services.common.observe import client_scheme


@pytest.mark.parametrize(("forwarded", "scheme", "logged"), [
    (None, "http", "http"),                 # straight to the service
    ("https", "http", "https"),             # behind the edge
    ("HTTPS, http", "http", "https"),       # the first proxy's word counts
    ("gopher", "http", "http"),             # not a scheme we believe
    ("", "https", "https"),
])
def test_client_scheme(forwarded: str | None, scheme: str, logged: str) -> None:
    headers = Headers({} if forwarded is None else {"x-forwarded-proto": forwarded})
    assert client_scheme(headers, scheme) == logged
