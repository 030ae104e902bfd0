"""Reading LSP frames off a byte stream, and turning each into one message or one error.

pygls' own loop (pygls/io_.py) loses its footing for good after a single frame whose
Content-Length is off: it only takes a header line that is exactly `Content-Length: N\\r\\n`,
so once a body shares a line with the next header nothing is ever read again. It reads
whatever length a header announces (`Content-Length: 99999999999999` ended the server with
MemoryError) and any header line, however long. And it structures messages inside
`json.loads`, so a request with bad params, a bad id, or nested deeper than the parser's
recursion limit, is logged with a traceback and dropped without the answer JSON-RPC owes it.

This loop holds at most `MAX_FRAME_BYTES` of a frame and `MAX_HEADER_LINE` of a header line
in memory, skips a larger frame without reading it into memory, finds the next header
wherever it starts, and answers every request it cannot take with its JSON-RPC error code.
`strict` (TCP before the client has authenticated) closes on anything that is not an LSP
header instead: an HTTP request (a browser page, curl) is refused on its first line."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
)

log = logging.getLogger(__name__)

# A frame's body is held whole (JSON needs it): 128 MiB takes a 67 MB document with room for
# its JSON escapes. Anything longer is skipped, a chunk at a time.
MAX_FRAME_BYTES = 128 << 20
MAX_HEADER_LINE = 8 << 10  # a longer "line" is junk, dropped a piece at a time
MAX_DEPTH = 64  # LSP messages nest a dozen levels; deeper is refused before it recurses
CHUNK = 1 << 16
EXIT_GRACE_S = 2.0
_BIG_READ = 1 << 20
_OVERLAP = 128  # kept between pieces, so that a header cut across two is still found whole
_HEAD = 64 << 10  # of a skipped frame, kept to find its id, method and document

# The header may follow the tail of a frame that was longer than announced on the same line.
CONTENT_LENGTH = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r?\n\Z", re.IGNORECASE)
# Never inside valid JSON (a raw newline cannot be in a string, `Content-Length` cannot be
# outside one): seen inside a skipped body, it says the announced length was a lie.
_HEADER_INSIDE = re.compile(rb"Content-Length:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_LSP_HEADER = re.compile(rb"(?:Content-Length:[ \t]*\d+|Content-Type:[^\r\n]*)[ \t]*\r?\n\Z",
                         re.IGNORECASE)
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|"|[{}\[\],:]')
_URI = re.compile(rb'"textDocument"\s*:\s*\{\s*"uri"\s*:\s*("(?:[^"\\]|\\.)*")')

Read = Callable[[int], Awaitable[bytes]]


class NotLsp(Exception):
    """In strict mode: the peer does not speak LSP (an HTTP request, junk); close on it."""


@dataclass(frozen=True)
class Oversized:
    """A frame over the limit, skipped: its announced length and the first bytes of it."""
    length: int
    head: bytes


class FrameReader:
    """A bounded buffer over `read(n)` (at most n bytes; b"" at the end of the stream)."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._buf = bytearray()
        self._eof = False

    async def _fill(self, want: int = CHUNK) -> bool:
        if self._eof:
            return False
        chunk = await self._read(max(CHUNK, min(want, _BIG_READ)))
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def line(self, limit: int = MAX_HEADER_LINE) -> bytes:
        """Up to and including the next newline; a piece of at most `limit` bytes of a longer
        line; b"" at the end of the stream."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buf) >= limit:
                return self._take(limit - _OVERLAP)
            start = len(self._buf)
            if not await self._fill():
                return self._take(len(self._buf))

    async def exactly(self, n: int) -> bytes | None:
        """The next n bytes, or None if the stream ends first."""
        while len(self._buf) < n:
            if not await self._fill(n - len(self._buf)):
                return None
        return self._take(n)

    async def skip(self, n: int) -> Oversized:
        """Drop the next n bytes without holding them, stopping early at a header inside
        them (the length was a lie: the frame ended before it)."""
        total, head, scanned = n, bytearray(), 0
        while n > 0:
            end = min(n, len(self._buf))
            found = _HEADER_INSIDE.search(self._buf, max(0, scanned - _OVERLAP), end)
            scanned = end
            if found is not None:
                n = step = found.start()
            elif len(self._buf) >= n or (self._eof and self._buf):
                step = end
            elif len(self._buf) >= _BIG_READ + _OVERLAP:  # keep a tail: a header may start
                step = len(self._buf) - _OVERLAP  # in it and end in the next read
            elif await self._fill(min(n, _BIG_READ + _OVERLAP) - len(self._buf)):
                continue  # never asks for more than the frame: nothing else may come
            else:
                break
            head += self._buf[:max(0, min(step, _HEAD - len(head)))]
            del self._buf[:step]
            n -= step
            scanned = 0
        return Oversized(total, bytes(head))


async def read_frame(reader: FrameReader, *, max_frame: int = MAX_FRAME_BYTES,
                     strict: bool = False) -> bytes | Oversized | None:
    """The next frame's body, an `Oversized` frame (skipped), or None at the end of the
    stream. Lines before a Content-Length header that are not one (junk, or the tail of a bad
    frame) are skipped; in `strict` mode they raise `NotLsp`, as does an oversized frame."""
    length: int | None = None
    stray = 0
    while True:
        line = await reader.line()
        if not line:
            _stray(stray)
            return None
        if strict and _LSP_HEADER.match(line) is None and not (
                length is not None and not line.strip()):
            raise NotLsp(f"not an LSP header: {line[:40]!r}")
        if (match := CONTENT_LENGTH.search(line)) is not None:
            stray += match.start()
            digits = match.group(1)
            length = int(digits) if len(digits) <= 18 else 10 ** 18
        elif line.strip():
            if length is None:
                stray += len(line)
        elif length is not None:  # the blank line that ends the headers
            _stray(stray)
            if length > max_frame:
                if strict:
                    raise NotLsp(f"a frame of {length} bytes before authentication")
                return await reader.skip(length)
            return await reader.exactly(length)
        # A blank line without a length: nothing to read, look for the next header.


def _stray(count: int) -> None:
    if count:
        log.warning("skipped %d stray bytes looking for a header", count)


async def serve(stop: threading.Event, reader: FrameReader, protocol: MessageSink) -> None:
    """Hand every frame to the protocol until the stream ends, `stop` is set, or the
    protocol has taken `exit` (then the answers already due go out first)."""
    while not stop.is_set():
        frame = await read_frame(reader)
        if frame is None:
            log.info("the client closed the stream")
            return
        try:
            if isinstance(frame, Oversized):
                refuse_oversized(protocol, frame)
            else:
                receive(protocol, frame)
        except Exception:  # one bad message must not end the session
            log.exception("could not handle a message")
        if getattr(protocol, "exited", False):
            await _settle(protocol)
            return
        await asyncio.sleep(0)  # frames already read wait while the handlers start


async def _settle(protocol: MessageSink) -> None:
    """Until the requests in flight are answered (a `shutdown` sent just before `exit`), for
    at most EXIT_GRACE_S."""
    futures = list(getattr(protocol, "_request_futures", {}).values())
    pending = [asyncio.wrap_future(f) for f in futures if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=EXIT_GRACE_S)


class MessageSink(Protocol):
    """What the loop needs of pygls' JsonRPCProtocol."""

    def structure_message(self, data: dict[str, Any]) -> Any: ...

    def handle_message(self, message: Any) -> None: ...

    def get_message_type(self, method: str) -> Any: ...

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None: ...


class Unreadable(Exception):
    """A body that is not a message: the error to answer with, and the top-level fields
    (`id`, `method`) that could be found."""

    def __init__(self, error: JsonRpcException, fields: dict[str, Any]) -> None:
        super().__init__(error.message)
        self.error, self.fields = error, fields


def load(body: bytes) -> Any:
    """The JSON of a frame's body, nested at most `MAX_DEPTH` levels."""
    too_deep = JsonRpcInvalidRequest(
        message=f"Invalid Request: nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(body)
    except RecursionError:
        raise Unreadable(too_deep, top_level(body)) from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise Unreadable(JsonRpcParseError(message=f"Parse error: {exc}"), {}) from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Unreadable(too_deep, data if isinstance(data, dict) else {})
        children = value.values() if isinstance(value, dict) else value
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return data


def receive(protocol: MessageSink, body: bytes) -> None:
    """Parse, check and dispatch one frame's body; answer a request that cannot be taken."""
    try:
        data = load(body)
    except Unreadable as exc:
        _refuse(protocol, exc.fields, exc.error)
        return
    dispatch(protocol, data)


def dispatch(protocol: MessageSink, data: Any) -> None:
    """Check one parsed message and hand it to pygls, or answer it with its error."""
    if not isinstance(data, dict) or data.get("jsonrpc") != "2.0":
        _refuse(protocol, data, JsonRpcInvalidRequest(message="Invalid Request: not JSON-RPC 2.0"))
        return
    method = data.get("method")
    response = method is None and "id" in data and ("result" in data or "error" in data)
    if method is None and not response:
        _refuse(protocol, data, JsonRpcInvalidRequest(
            message="Invalid Request: neither a method nor a response"))
        return
    if method is not None and not isinstance(method, str):
        _refuse(protocol, data, JsonRpcInvalidRequest(message="Invalid Request: method"))
        return
    if "id" in data and not valid_id(data["id"], response=response):
        what = "a response" if response else repr(method)
        log.warning("cannot take %s: its id is %s, not an integer or a string", what,
                    json.dumps(data["id"])[:40])
        if not response:  # a response's sender expects nothing back
            protocol._send_response(None, error=JsonRpcInvalidRequest(
                message="Invalid Request: the id must be an integer or a string"
            ).to_response_error())
        return
    if method is not None and data.get("params") is not None and not isinstance(
            data["params"], dict | list):
        _refuse(protocol, data, JsonRpcInvalidParams(
            message="Invalid params: must be an object or an array"))
        return
    if method not in (None, "exit") and "id" in data and getattr(protocol, "_shutdown", False):
        _refuse(protocol, data, JsonRpcInvalidRequest(
            message="Invalid Request: the server is shutting down"))
        return
    if method is not None and "params" not in data and protocol.get_message_type(method) is None:
        data["params"] = None  # JSON-RPC lets params be omitted; pygls' fallback type needs it
    try:
        message = protocol.structure_message(data)
    except JsonRpcException as exc:
        if method is not None and protocol.get_message_type(method) is None and not isinstance(
                exc, JsonRpcInvalidParams):
            _refuse(protocol, data, JsonRpcMethodNotFound.of(method))
        else:
            _refuse(protocol, data, exc)
        return
    except Exception as exc:  # answered, not raised: the loop goes on
        _refuse(protocol, data, JsonRpcInternalError(message=str(exc)))
        return
    protocol.handle_message(message)


def valid_id(msg_id: Any, *, response: bool = False) -> bool:
    """LSP ids are integers or strings (a response to a message without one: null)."""
    if isinstance(msg_id, bool):
        return False
    return isinstance(msg_id, int | str) or (response and msg_id is None)


def refuse_oversized(protocol: MessageSink, frame: Oversized) -> None:
    """Answer a skipped request (when its id shows in the part kept), and forget the document
    a skipped message was about: an edit that was never applied would leave it wrong."""
    fields = top_level(frame.head)
    method = fields.get("method") if isinstance(fields.get("method"), str) else None
    uri = _document_uri(frame.head)
    log.warning("skipped a message of %d bytes%s%s: over the limit of %d bytes", frame.length,
                f" ({method})" if method else "", f" about {uri}" if uri else "", MAX_FRAME_BYTES)
    if method is not None and "id" in fields and valid_id(fields["id"]):
        protocol._send_response(fields["id"], error=JsonRpcInvalidRequest(
            message=f"Invalid Request: {frame.length} bytes, over the limit of "
                    f"{MAX_FRAME_BYTES} bytes").to_response_error())
    if uri is not None and method in (None, "textDocument/didOpen", "textDocument/didChange"):
        receive(protocol, json.dumps({"jsonrpc": "2.0", "method": "textDocument/didClose",
                                      "params": {"textDocument": {"uri": uri}}}).encode())


def _document_uri(head: bytes) -> str | None:
    if (match := _URI.search(head)) is None:
        return None
    try:
        uri = json.loads(match.group(1))
    except ValueError:
        return None
    return uri if isinstance(uri, str) else None


def top_level(data: bytes) -> dict[str, Any]:
    """`id` and `method` among the top-level members of a JSON object, found without parsing
    the rest, which may be too deep to parse or cut off. An id that is an object or an array
    is found as None."""
    found: dict[str, Any] = {}
    depth, expect, key, value_at = 0, "key", "", 0
    for token in _TOKEN.finditer(data):
        text = token.group()
        if text == b'"' or (depth == 0 and text != b"{"):  # a string cut off, or no object
            break
        if depth == 1:
            if expect == "value":
                raw = text if text[:1] == b'"' else (
                    data[value_at:token.start()] if text in (b",", b"}") else b"null")
                if key in ("id", "method"):
                    found[key] = _json(raw)
                expect = "after"
            elif expect == "key" and text[:1] == b'"':
                key, expect = str(_json(text)), "colon"
            elif expect == "colon" and text == b":":
                value_at, expect = token.end(), "value"
            if text == b",":
                expect = "key"
        if text in (b"{", b"["):
            depth += 1
        elif text in (b"}", b"]"):
            depth -= 1
            if depth <= 0:
                break
    return found


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


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
    if not valid_id(msg_id):
        msg_id = None
    protocol._send_response(msg_id, error=error.to_response_error())
