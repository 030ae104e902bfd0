"""The frame reader finds its footing after bad frames; `receive` answers what it cannot take."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from deskmate.server.lsp.transport import read_frame, receive


def frames(data: bytes) -> list[bytes]:
    async def read_all() -> list[bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        bodies = []
        while (body := await read_frame(reader)) is not None:
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
    (b'{"jsonrpc": "2.0", "id": true, "method": "known", "params": 5}', (None, -32602)),
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
