"""uvicorn's httptools protocol, drained on shutdown: a kept-alive connection is never closed
under a client that is sending on it.

Selected with ``uvicorn --http services.common.drain:DrainingProtocol`` (the backend's compose
command). Stock uvicorn closes every idle keep-alive connection the moment its shutdown
begins. The gateway pools its connections to the backend, and one it took from the pool just
then carried a request into a closing socket: the connection dropped before any answer, and
the gateway could only answer 502 (a PATCH, in a rolling update of the backend under traffic:
the old task was told to stop). Here shutdown leaves an idle connection open: its next request
is answered with ``Connection: close`` and the connection closes after it. One that stays idle
is closed by the client's own keep-alive expiry, or after :data:`DRAIN_IDLE_S` by us. A
request in progress finishes, as uvicorn already does; the listening socket closes at once,
so new connections go to the other replicas.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# How long an idle connection stays open once shutdown began. Longer than the gateway keeps
# an idle pooled connection (services/gateway/proxy.py KEEPALIVE_EXPIRY_S, 2 s; a test ties the
# two): the gateway closes it itself first, so no request meets our close. Within swarm's and
# compose's stop grace period (10 s) with the gateway's upstream timeout (5 s) beside it.
DRAIN_IDLE_S = 4.0


class DrainingProtocol(HttpToolsProtocol):
    _draining = False

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is None or self.cycle.response_complete:
            # Idle: wait for the next request (answered, then closed) or close after the drain.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(DRAIN_IDLE_S, self.timeout_keep_alive_handler)
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            # Answered with `Connection: close`, and the connection closes after it.
            self.cycle.keep_alive = False
