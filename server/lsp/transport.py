"""Reading LSP frames off a byte stream, and turning each into one message or one error.

pygls' own loop (pygls/io_.py) loses its footing for good after a single frame whose
Content-Length is off: it only takes a header line that is exactly `Content-Length: N\\r\\n`,
so once a body shares a line with the next header nothing is ever read again. And it
structures messages inside `json.loads`, so a request with bad params, or one without a
method, is logged and dropped without the answer JSON-RPC owes it. This loop finds the next
header wherever it starts, and answers every request it cannot take with its error code."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Awaitable
from typing import Any, Protocol

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
)

log = logging.getLogger(__name__)

# The header may follow the tail of a frame that was longer than announced on the same line.
CONTENT_LENGTH = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r?\n\Z", re.IGNORECASE)


class FrameReader(Protocol):
    def readline(self) -> Awaitable[bytes]: ...

    def readexactly(self, n: int) -> Awaitable[bytes]: ...


class MessageSink(Protocol):
    """What the loop needs of pygls' JsonRPCProtocol."""

    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def handle_message(self, message: Any) -> None: ...

    def get_message_type(self, method: str) -> Any: ...

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None: ...


async def read_frame(reader: FrameReader) -> bytes | None:
    """The next frame's body, or None at the end of the stream. Lines before a
    Content-Length header that are not one (junk, or the tail of a bad frame) are skipped."""
    length: int | None = None
    while True:
        line = await reader.readline()
        if not line:
            return None
        if (match := CONTENT_LENGTH.search(line)) is not None:
            if match.start() > 0:
                log.warning("skipped %d stray bytes before a header", match.start())
            length = int(match.group(1))
        elif line.strip():
            if length is None:
                log.warning("skipped %d stray bytes looking for a header", len(line))
        elif length is not None:  # the blank line that ends the headers
            try:
                body = await reader.readexactly(length)
            except EOFError:  # asyncio.IncompleteReadError: the stream ended mid-frame
                return None
            return body if len(body) == length else None
        # A blank line without a length: nothing to read, look for the next header.


async def serve(stop: threading.Event, reader: FrameReader, protocol: MessageSink) -> None:
    """Hand every frame to the protocol until the stream ends or `stop` is set."""
    while not stop.is_set():
        body = await read_frame(reader)
        if body is None:
            log.info("the client closed the stream")
            return
        try:
            receive(protocol, body)
        except Exception:  # one bad message must not end the session
            log.exception("could not handle a message")


def receive(protocol: MessageSink, body: bytes) -> None:
    """Parse, check and dispatch one frame's body; answer a request that cannot be taken."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # not JSON, or not UTF-8
        log.warning("a frame that is not JSON: %s", exc)
        protocol._send_response(None, error=JsonRpcParseError().to_response_error())
        return
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        _refuse(protocol, data, JsonRpcInvalidRequest(message="Invalid Request: not JSON-RPC 2.0"))
        return
    method = data.get("method")
    if method is None and not ("id" in data and ("result" in data or "error" in data)):
        _refuse(protocol, data, JsonRpcInvalidRequest(
            message="Invalid Request: neither a method nor a response"))
        return
    if method is not None and not isinstance(method, str):
        _refuse(protocol, data, JsonRpcInvalidRequest(message="Invalid Request: method"))
        return
    if method is not None and "params" not in data and protocol.get_message_type(method) is None:
        data["params"] = None  # JSON-RPC lets params be omitted; pygls' fallback type needs it
    try:
        message = protocol.structure_message(data)
    except JsonRpcException as exc:
        if method is not None and protocol.get_message_type(method) is None:
            _refuse(protocol, data, JsonRpcMethodNotFound.of(method))
        else:
            _refuse(protocol, data, exc)
        return
    except Exception as exc:  # answered, not raised: the loop goes on
        _refuse(protocol, data, JsonRpcInternalError(message=str(exc)))
        return
    protocol.handle_message(message)


def _refuse(protocol: MessageSink, data: Any, error: JsonRpcException) -> None:
    """Answer a request with `error`. JSON-RPC never answers a notification or a response,
    so those are only logged; a message too broken to tell gets an answer with a null id."""
    if isinstance(data, dict):
        is_request = "id" in data and "result" not in data and "error" not in data
        answered = is_request or ("id" not in data and "method" not in data)
        msg_id = data.get("id") if is_request else None
        what = repr(data.get("method", "message"))
    else:
        answered, msg_id, what = True, None, "message"
    log.warning("cannot take %s: %s", what, error.message)
    if not answered:
        return
    if not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool):
        msg_id = None
    protocol._send_response(msg_id, error=error.to_response_error())
