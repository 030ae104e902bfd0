"""The frame reader finds its footing after bad frames and holds a bounded amount of any;
`receive` answers what it cannot take."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from deskmate.server.lsp.transport import (
    FrameReader,
    NotLsp,
    Oversized,
    Unreadable,
    load,
    read_frame,
    receive,
    top_level,
)


def frames(data: bytes, *, max_frame: int = 1 << 20, piece: int = 1 << 16,
           strict: bool = False) -> list[bytes | Oversized]:
    """Every frame read off `data`, handed over `piece` bytes at a time."""
    async def read_all() -> list[bytes | Oversized]:
        stream = asyncio.StreamReader()
        stream.feed_data(data)
        stream.feed_eof()
        reader = FrameReader(lambda n: stream.read(min(n, piece)))
        bodies: list[bytes | Oversized] = []
        while (body := await read_frame(reader, max_frame=max_frame, strict=strict)) is not None:
            bodies.append(body)
        return bodies
    return asyncio.run(read_all())


def frame(body: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body) if length is None else length, body)


def test_well_formed_frames_with_extra_headers() -> None:
    data = (frame(b'{"a":1}') + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
            + frame(b'{"b":2}'))
    assert frames(data) == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("shift", [-1, 1])
def test_a_frame_with_a_wrong_length_costs_at_most_the_next_one(shift: int) -> None:
    good = [b'{"n":%d}' % n for n in range(3)]
    data = frame(b'{"bad":0}', len(b'{"bad":0}') + shift) + b"".join(frame(g) for g in good)
    bodies = frames(data)
    assert bodies[-2:] == good[-2:]  # the stream lines up again


def test_junk_before_a_header_is_skipped_and_a_cut_frame_is_dropped() -> None:
    data = b"hello\r\n\r\n" + frame(b'{"a":1}') + b"Content-Length: 50\r\n\r\n{\"cut"
    assert frames(data) == [b'{"a":1}']


class Recorder:
    """Stands in for pygls' protocol: records what `receive` dispatches and answers."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.handled: list[Any] = []
        self.answers: list[tuple[Any, int]] = []

    def structure_message(self, data: dict[str, Any]) -> Any:
        if data["method"] in self.known and not isinstance(data.get("params"), dict):
            from pygls.exceptions import JsonRpcInvalidParams
            raise JsonRpcInvalidParams()
        return data

    def handle_message(self, message: Any) -> None:
        self.handled.append(message)

    def get_message_type(self, method: str) -> Any:
        return object if method in self.known else None

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        self.answers.append((msg_id, error.code))


@pytest.mark.parametrize(("body", "answer"), [
    (b"{not json", (None, -32700)),
    (b"[1, 2]", (None, -32600)),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "known"}', (1, -32600)),
    (b'{"jsonrpc": "2.0", "id": 2, "params": {}}', (2, -32600)),
    (b'{"jsonrpc": "2.0", "id": 3, "method": "known", "params": 5}', (3, -32602)),
    (b'{"jsonrpc": "2.0", "id": true, "method": "known", "params": 5}', (None, -32600)),
    (b'{"jsonrpc": "2.0", "id": 1.5, "method": "known", "params": {}}', (None, -32600)),
    (b'{"jsonrpc": "2.0", "id": {}, "method": "known", "params": {}}', (None, -32600)),
    (b'{"jsonrpc": "2.0", "id": 4, "method": "known", "params": "x"}', (4, -32602)),
    (b'{"jsonrpc": "2.0", "id": 5, "method": "known", "params": ' + b"[" * 70 + b"]" * 70
     + b"}", (5, -32600)),
    (b'{"jsonrpc": "2.0", "method": "known", "params": ' + b"[" * 10**5 + b"]" * 10**5
     + b', "id": "deep"}', ("deep", -32600)),
])
def test_what_cannot_be_taken_is_answered_once(body: bytes, answer: tuple[Any, int]) -> None:
    protocol = Recorder({"known"})
    receive(protocol, body)
    assert protocol.answers == [answer]
    assert protocol.handled == []


def test_notifications_are_never_answered_and_omitted_params_are_allowed() -> None:
    protocol = Recorder({"known"})
    receive(protocol, b'{"jsonrpc": "2.0", "method": "known", "params": 5}')
    receive(protocol, json.dumps({"jsonrpc": "2.0", "id": 7, "method": "other"}).encode())
    assert protocol.answers == []
    assert protocol.handled == [{"jsonrpc": "2.0", "id": 7, "method": "other", "params": None}]


def test_a_response_with_a_bad_id_is_dropped_unanswered() -> None:
    protocol = Recorder({"known"})
    receive(protocol, b'{"jsonrpc": "2.0", "id": [1], "result": null}')
    receive(protocol, b'{"jsonrpc": "2.0", "id": {"a": 1}, "error": {"code": 1, "message": ""}}')
    assert protocol.answers == []
    assert protocol.handled == []


def test_nesting_is_bounded_and_the_bound_itself_is_taken() -> None:
    assert load(b"[" * 64 + b"]" * 64) == load(b"[" * 64 + b"]" * 64)  # 64 levels: fine
    for depth in (65, 900, 10**5):
        with pytest.raises(Unreadable):
            load(b"[" * depth + b"]" * depth)


@pytest.mark.parametrize(("body", "fields"), [
    (b'{"jsonrpc":"2.0","id":5,"method":"m","params":{"id":9}}', {"id": 5, "method": "m"}),
    (b'{"params":{"s":"}]\\"","id":1},"id": "a" , "method":"m"}', {"id": "a", "method": "m"}),
    (b'{"params":' + b"[" * 5000 + b"]" * 5000 + b', "id": 7.5}', {"id": 7.5}),
    (b'{"id":{"a":1},"method":"m","params":"cut off', {"id": None, "method": "m"}),
    (b'{"params":{"text":"cut off \\"id\\": 5', {}),  # inside a string: not a member
    (b'[{"id":1}]', {}),
])
def test_top_level_members_are_found_without_parsing_the_rest(
        body: bytes, fields: dict[str, Any]) -> None:
    assert top_level(body) == fields


def test_a_frame_over_the_limit_is_skipped_whole_and_the_next_one_read() -> None:
    big = b'{"jsonrpc":"2.0","id":3,"method":"m","params":"' + b"x" * 5000 + b'"}'
    for piece in (7, 100, 1 << 16):  # headers and bodies cut anywhere
        read = frames(frame(big) + frame(b'{"n":1}'), max_frame=1000, piece=piece)
        assert read == [Oversized(len(big), big), b'{"n":1}'], piece


@pytest.mark.parametrize("length", [b"99999999999999", b"9" * 5000])
def test_a_lying_length_costs_only_its_own_frame(length: bytes) -> None:
    data = b"Content-Length: " + length + b'\r\n\r\n{"id":1}' + frame(b'{"n":1}') + frame(b"{}")
    read = frames(data, max_frame=1000, piece=13)
    assert read[1:] == [b'{"n":1}', b"{}"]
    assert isinstance(read[0], Oversized)
    assert read[0].head == b'{"id":1}'


def test_an_endless_header_line_is_junk_and_a_header_at_its_end_is_found() -> None:
    data = b"x" * 300_000 + frame(b'{"a":1}') + b"y" * 100_000 + b"\n" + frame(b'{"b":2}')
    for piece in (1000, 8191, 1 << 16):
        assert frames(data, piece=piece) == [b'{"a":1}', b'{"b":2}']


@pytest.mark.parametrize("data", [
    b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n",
    b"GET /?q=1 HTTP/1.0\r\n\r\n",
    b"Host: 127.0.0.1\r\n" + frame(b"{}"),
    b"Content-Length: 2\r\nOrigin: http://evil.example\r\n\r\n{}",
    b"\r\n" + frame(b"{}"),
    b"x" * 20_000,
    b"Content-Length: 5000\r\n\r\n" + b"x" * 5000,  # over the limit: not skipped, refused
])
def test_strict_mode_refuses_anything_but_lsp_headers(data: bytes) -> None:
    with pytest.raises(NotLsp):
        frames(data, max_frame=1000, strict=True)


def test_strict_mode_takes_lsp_headers() -> None:
    data = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + frame(b"{}")
    assert frames(data, strict=True) == [b"{}"]


def test_a_skipped_frame_at_the_end_of_what_was_sent_is_done_without_more_data() -> None:
    """The client sent an oversized frame and now waits for the answer: the skip must not wait
    for bytes past the frame."""
    async def first_frame() -> bytes | Oversized | None:
        stream = asyncio.StreamReader()  # never ends
        stream.feed_data(frame(b"y" * 3000))
        reader = FrameReader(lambda n: stream.read(min(n, 100)))
        return await asyncio.wait_for(read_frame(reader, max_frame=1000), 5)
    assert asyncio.run(first_frame()) == Oversized(3000, b"y" * 3000)


def test_a_lying_length_is_found_out_without_more_data() -> None:
    """The next frame is already there: the skip stops at its header instead of waiting for
    the bytes the lie announced."""
    async def two_frames() -> list[bytes | Oversized | None]:
        stream = asyncio.StreamReader()  # never ends
        stream.feed_data(b'Content-Length: 99999999999999\r\n\r\n{"id":1}' + frame(b"{}"))
        reader = FrameReader(lambda n: stream.read(min(n, 100)))
        return [await asyncio.wait_for(read_frame(reader), 5) for _ in range(2)]
    assert asyncio.run(two_frames()) == [Oversized(99999999999999, b'{"id":1}'), b"{}"]
