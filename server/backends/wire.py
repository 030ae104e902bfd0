"""Reading a model server's answer off the wire with bounds on everything it could inflate.

A completion is a few kilobytes. A server (or whatever answers at its url) can send far more:
an 8 MB gzip body that inflates to gigabytes, a 500 MB body, an SSE line that never ends.
httpx decodes a whole compressed network chunk at once and keeps a partial line for as long
as it grows, so nothing there is bounded. Here the body is read raw and decompressed in steps
of at most `STEP` bytes, the decompressed total is capped (`body_limit`), and so is each line
(`MAX_LINE_BYTES`); crossing a cap ends the answer with one `BadResponse`."""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import NoReturn, Protocol

import httpx

from deskmate.server.errors import BadResponse

# The Accept-Encoding Deskmate sends: only what `_decoder` can inflate step by step.
ACCEPT_ENCODING = "gzip, deflate"
STEP = 64 * 1024  # bytes inflated at a time
MAX_LINE_BYTES = 1024 * 1024  # one SSE or NDJSON line (one chunk of the answer is < 1 KB)
BASE_BODY_BYTES = 8 * 1024 * 1024  # a whole answer, decompressed, before the per-token share
BODY_BYTES_PER_TOKEN = 4096  # a streamed token costs ~150-500 bytes of JSON framing


def body_limit(max_tokens: int = 0) -> int:
    """Decompressed bytes an answer of `max_tokens` tokens may take on the wire: generous for
    any real server's framing, far below what would hurt the process."""
    return BASE_BODY_BYTES + max(max_tokens, 0) * BODY_BYTES_PER_TOKEN


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), STEP):
            yield data[start:start + STEP]

    def flush(self) -> Iterator[bytes]:
        return iter(())


class _Zlib:
    """gzip (wbits 31, member after member) or deflate (zlib-wrapped, or raw as some servers
    send it), inflated at most STEP bytes per call so a bomb never lands in memory whole."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.wbits = 31 if name == "gzip" else 15
        self.inflater = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.inflater.decompress(data, STEP)
            except zlib.error as exc:
                if self.name == "deflate" and not self.started and self.wbits > 0:
                    self.wbits = -15  # raw deflate, without the zlib header
                    self.inflater = zlib.decompressobj(self.wbits)
                    continue
                raise BadResponse(f"the answer's {self.name} encoding is broken ({exc})"
                                  ) from None
            self.started = True
            if out:
                yield out
            data = self.inflater.unconsumed_tail
            if self.inflater.eof:
                data = self.inflater.unused_data
                if not data:
                    return
                self.inflater = zlib.decompressobj(self.wbits)  # the next gzip member
                continue
            if not data and len(out) < STEP:
                return

    def flush(self) -> Iterator[bytes]:
        if out := self.inflater.flush():
            yield out


class _Chain:
    """Content-Encoding lists the encodings in the order they were applied."""

    def __init__(self, decoders: list[_Decoder]) -> None:
        self.decoders = decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(1, self.decoders[0].feed(data))

    def flush(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self.decoders):
            yield from self._through(index + 1, decoder.flush())

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if index == len(self.decoders):
            yield from pieces
            return
        for piece in pieces:
            yield from self._through(index + 1, self.decoders[index].feed(piece))


def _decoder(content_encoding: str) -> _Decoder:
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    decoders: list[_Decoder] = []
    for name in reversed(names):  # the last applied is undone first
        if name in ("gzip", "x-gzip"):
            decoders.append(_Zlib("gzip"))
        elif name == "deflate":
            decoders.append(_Zlib("deflate"))
        elif name != "identity":
            raise BadResponse(f"the answer is encoded as {name!r}, which Deskmate did not ask "
                              f"for (it accepts {ACCEPT_ENCODING})")
    return _Chain(decoders) if decoders else _Identity()


async def decoded_chunks(response: httpx.Response, limit: int
                         ) -> AsyncGenerator[bytes, None]:
    """The response body, decompressed STEP bytes at a time, never more than `limit` bytes."""
    decoder = _decoder(response.headers.get("content-encoding", ""))
    total = 0

    def counted(piece: bytes) -> bytes:
        nonlocal total
        total += len(piece)
        if total > limit:
            raise BadResponse(f"the answer is larger than {_mib(limit)} (decompressed); a "
                              "completion takes a few KB, so this is not a model's answer")
        return piece

    async for raw in response.aiter_raw():
        for piece in decoder.feed(raw):
            yield counted(piece)
    for piece in decoder.flush():
        yield counted(piece)


async def read_body(chunks: AsyncIterator[bytes]) -> bytes:
    """All of a (bounded) body."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
    return bytes(body)


async def read_head(response: httpx.Response, size: int) -> bytes:
    """The first `size` bytes of the body (an error page's gist), whatever its length."""
    head = bytearray()
    async with aclosing(decoded_chunks(response, body_limit())) as chunks:
        async for chunk in chunks:
            head += chunk
            if len(head) >= size:
                break
    return bytes(head[:size])


async def lines(chunks: AsyncIterator[bytes], limit: int = MAX_LINE_BYTES
                ) -> AsyncIterator[str]:
    """Text lines (without their ending: LF, CRLF or a lone CR, as SSE allows) of at most
    `limit` bytes each; invalid UTF-8 becomes U+FFFD. A last line without its ending comes
    out too."""
    partial = bytearray()
    after_cr = False  # the last chunk ended in CR: a LF starting the next one belongs to it
    async for chunk in chunks:
        if not chunk:
            continue
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        after_cr = False
        for piece in chunk.splitlines(keepends=True):
            if piece.endswith((b"\n", b"\r")):
                after_cr = piece.endswith(b"\r")
                partial += piece.rstrip(b"\r\n")
                yield _line(partial, limit)
                partial = bytearray()
            else:
                partial += piece
                after_cr = False
                if len(partial) > limit:
                    _too_long(limit)
    if partial:
        yield _line(partial, limit)


async def server_sent_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """SSE framing: (event name or '', data) per message; comments (keep-alives) skipped, a
    message's data lines joined. The data of a message is bounded by the body limit."""
    event, data_lines = "", list[str]()
    async for line in lines:
        if not line:
            if data_lines:
                yield event, "\n".join(data_lines)
            event, data_lines = "", list[str]()
        elif line.startswith(":"):
            continue  # SSE comment / keep-alive
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data_lines.append(value)
    if data_lines:  # a last message without its blank line
        yield event, "\n".join(data_lines)


def _line(raw: bytearray, limit: int) -> str:
    if len(raw) > limit:
        _too_long(limit)
    return raw.decode("utf-8", "replace")


def _too_long(limit: int) -> NoReturn:
    raise BadResponse(f"a line of the answer is longer than {_mib(limit)}; a streamed answer "
                      "sends one small JSON item per line")
