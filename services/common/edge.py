"""uvicorn's httptools protocol with bounds on the request head and strict body framing.

Selected with ``uvicorn --http services.common.edge:EdgeProtocol`` (the gateway's compose
command). Stock uvicorn 0.54 with httptools has no bound on how long a head may take (a
connection that never sends, or sends a byte a second, is held forever: the keep-alive
timer only runs between requests) nor on its size (httptools buffers a header line until
it ends). h11's ``max_incomplete_event_size`` would bound the size, but only for the h11
protocol, and uvicorn answers it with a 400: the gateway runs httptools, so the bounds
live here. What llhttp refuses on its own (CL+TE, duplicate or non-numeric
Content-Length, obs-fold, NUL, bare CR/LF, an unknown final coding) keeps its reason; this
adds the framings it lets through: a coding before ``chunked`` (501) and Transfer-Encoding
on HTTP/1.0 (RFC 9112 §6.1: faulty framing). Every refusal is a JSON body in the API's
error shape and closes the connection, since the parser's position in the stream is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from services.common.settings import EdgeSettings, load_edge

logger = logging.getLogger("services.edge")

# Read once when uvicorn imports the protocol: a bad value stops the server at start.
SETTINGS: EdgeSettings = load_edge()
# "METHOD SP target SP HTTP/1.1 CRLF" less the target, and ": " + CRLF per header line.
_REQUEST_LINE_OVERHEAD = 20
_HEADER_LINE_OVERHEAD = 4


class Refusal(Exception):
    """Raised from a parser callback (httptools wraps it) or built directly: the answer to send."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail


class EdgeProtocol(HttpToolsProtocol):
    settings: EdgeSettings = SETTINGS

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = True  # between requests or inside a head: bytes count against the bound
        self._head_bytes = 0
        self._message_begun = False
        self._refused = False
        self._close_after_response = False

    # Connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A fresh connection owes a head within the bound too (it may never send a byte).
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is sent or queued; the rest of the stream has no framing
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, Refusal):
                self._refuse(cause)
            else:
                # Our bug or uvicorn's, not the client's: logged with its traceback, and the
                # connection cut (asyncio would cut it too, with a less useful log line).
                logger.error("parser callback failed for %s", self._peer(), exc_info=cause or exc)
                self._refused = True
                self.transport.close()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            # llhttp's reason is a fixed phrase ("Duplicate Content-Length"): safe to echo.
            self._refuse(Refusal(400, "bad_request", str(exc) or "invalid HTTP request"))
            return
        if not self._in_head:
            return
        if self._head_bytes > self.settings.max_head_bytes:
            self._refuse(self._too_large())
        elif self._head_bytes and self._head_timer is None:
            # Bytes of a next head on a kept-alive connection (even bare CRLFs, which start no
            # message): the keep-alive timer is off now, so the head clock must run.
            self._arm_head_timer()

    # Parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._message_begun = True
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._in_head = False
        self._message_begun = False
        self._head_bytes = 0
        # The bytes counter above sees whole reads; this is exact for a head read in one go.
        size = _REQUEST_LINE_OVERHEAD + len(self.url) + sum(
            len(name) + len(value) + _HEADER_LINE_OVERHEAD for name, value in self.headers)
        if size > self.settings.max_head_bytes:
            raise self._too_large()
        self._check_framing()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._close_after_response and not self.transport.is_closing():
            self.transport.close()

    # Checks -----------------------------------------------------------------------------

    def _check_framing(self) -> None:
        codings = [token.strip().lower() for name, value in self.headers if name == b"transfer-encoding"
                   for token in value.split(b",")]
        if not codings:
            return  # llhttp has already refused duplicate and non-numeric Content-Length
        if any(name == b"content-length" for name, _ in self.headers):
            raise Refusal(400, "bad_request", "Transfer-Encoding and Content-Length together")
        if self.parser.get_http_version() != "1.1":
            raise Refusal(400, "bad_request", "Transfer-Encoding on an HTTP/1.0 request")
        if codings == [b"chunked"]:
            return
        if all(codings) and codings[-1] == b"chunked" and codings.count(b"chunked") == 1:
            # Well-formed, but the gateway would relay a body the backend cannot decode.
            raise Refusal(501, "not_implemented", "only Transfer-Encoding: chunked is supported")
        raise Refusal(400, "bad_request", "invalid Transfer-Encoding")

    def _too_large(self) -> Refusal:
        return Refusal(431, "request_header_fields_too_large",
                       f"request line and headers exceed {self.settings.max_head_bytes} bytes")

    # Head timer -------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.settings.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._busy():
            # Reading is paused while an earlier response is written: the client is not the
            # slow one. That response is bounded by the app's own timeouts.
            self._arm_head_timer()
            return
        if not self._head_bytes and not self._message_begun:
            # Nothing sent at all: an idle connection, closed without an answer (as nginx does).
            self.transport.close()
            return
        self._refuse(Refusal(408, "request_timeout",
                             f"request head not complete within {self.settings.head_timeout:g} s"))

    # Answers ----------------------------------------------------------------------------

    def _busy(self) -> bool:
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "unknown peer"

    def _refuse(self, refusal: Refusal) -> None:
        self._refused = True
        self._disarm_head_timer()
        logger.warning("refused a request from %s with %d: %s", self._peer(), refusal.status, refusal.detail)
        if self.transport.is_closing():
            return
        cycle = self.cycle
        # uvicorn's ``cycle`` is the newest request; a non-empty pipeline means an earlier one
        # is still being answered.
        if self.pipeline or (cycle is not None and not cycle.response_complete and not cycle.more_body):
            # A whole request is being answered and the bad bytes follow it (pipelined). Ours
            # would land in the middle of that answer: it finishes, then the connection closes;
            # requests queued behind it never ran, so dropping them is safe to retry.
            self.pipeline.clear()
            if cycle is not None:
                cycle.keep_alive = False
            self._close_after_response = True
            self.flow.pause_reading()
            return
        if cycle is not None and not cycle.response_complete:
            # The bad bytes are inside this request's own body (a broken chunk): it can never
            # complete. The app is told the client left (the proxy then abandons the upstream
            # request mid-body), and must not write after our answer.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()  # its answer is half-written: cutting it is all that is left
                return
        body = json.dumps({"error": refusal.error, "detail": refusal.detail, "request_id": None}).encode()
        head = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-type: application/json\r\n",
                 b"content-length: %d\r\n" % len(body),
                 b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
