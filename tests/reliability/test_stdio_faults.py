"""Faults on the wire itself (issue 5, item 4), written as raw bytes to the real server's
stdin: malformed JSON-RPC frames must not take the server down or stop it answering, a
malformed request still gets its one error response, and closing stdin ends the server within
seconds with no process left behind."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile
from tests.reliability.conftest import RawServer, frame

SOURCE = "def add(a, b):\n    return \n"


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


REQUEST = {"jsonrpc": "2.0", "id": "odd", "method": "deskmate/context",
           "params": {"textDocument": {"uri": "file:///café.py"},
                      "position": {"line": 0, "character": 0}}}

# Frames a buggy client (or a corrupted pipe) might send.
MALFORMED = {
    "bad-json-body": b"Content-Length: 9\r\n\r\n{not json",
    "truncated-json": b'Content-Length: 30\r\n\r\n{"jsonrpc": "2.0", "id": 5, "m',
    "not-an-object": b"Content-Length: 6\r\n\r\n[1, 2]",
    "wrong-jsonrpc-version": frame({"jsonrpc": "1.0", "id": 6, "method": "shutdown"}),
    "frame-without-method": frame({"jsonrpc": "2.0", "id": 7, "params": {}}),
    "body-without-headers": body({"jsonrpc": "2.0", "id": 8, "method": "x"}) + b"\r\n\r\n",
    # The classic client bug: Content-Length counted in characters, not bytes ('é' is 2).
    "content-length-too-short": b"Content-Length: %d\r\n\r\n%s" % (
        len(body(REQUEST)) - 1, body(REQUEST)),
    "content-length-too-long": b"Content-Length: %d\r\n\r\n%s" % (
        len(body(REQUEST)) + 1, body(REQUEST)),
}
def inline_request(msg_id: str, uri: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/inlineCompletion",
            "params": {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11},
                       "context": {"triggerKind": 1}}}


def open_notification(uri: str, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}}}


@pytest.mark.parametrize("data", [
    pytest.param(data, id=name)
    for name, data in MALFORMED.items()
])
def test_malformed_frame_leaves_the_server_serving(
    model_server: ModelServer, raw_server: Any, workspace: Path, data: bytes
) -> None:
    model_server.reply = Reply(text="a + b")
    server: RawServer = raw_server()
    server.initialize(workspace, fast_profile(model_server))
    # One document per request: a newer request for the same document would cancel the older.
    uris = [(workspace / f"m{number}.py").as_uri() for number in (1, 2, 3)]
    for uri in uris:
        server.send(open_notification(uri, SOURCE))
    server.send(data)
    for number, uri in enumerate(uris, start=1):
        server.send(inline_request(f"after-{number}", uri))
    # A frame whose length is too long swallows the start of the one after it; from the
    # second on, every request must be answered.
    expected = ["after-2", "after-3"] if data.startswith(b"Content-Length: %d\r\n\r\n%s" % (
        len(body(REQUEST)) + 1, body(REQUEST))) else ["after-1", "after-2", "after-3"]
    answered = wait_for_answers(server, expected, timeout=3.0)

    assert server.proc.poll() is None  # still running
    assert answered == expected, server.stderr.decode()[-2000:]
    for msg_id in expected:
        [answer] = server.answers(msg_id)  # exactly once
        assert [i["insertText"] for i in answer["result"]["items"]] == ["a + b"]


def wait_for_answers(server: RawServer, ids: list[str], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(server.answers(i) for i in ids):
            break
        time.sleep(0.02)
    return [i for i in ids if server.answers(i)]


@pytest.mark.parametrize(("message", "code"), [
    pytest.param({"jsonrpc": "2.0", "id": "bad", "method": "textDocument/inlineCompletion",
                  "params": {"textDocument": {"uri": "file:///x.py"},
                             "position": {"line": 0, "character": 0}}},  # no "context"
                 -32602, id="invalid-params"),
    pytest.param({"jsonrpc": "2.0", "id": "bad", "method": "deskmate/noSuchMethod"}, -32601,
                 id="unknown-method-without-params"),
    pytest.param({"jsonrpc": "2.0", "id": "bad", "params": {}}, -32600,
                 id="request-without-method"),
])
def test_malformed_request_gets_its_one_error_response(
    raw_server: Any, workspace: Path, message: dict[str, Any], code: int
) -> None:
    server: RawServer = raw_server()
    server.initialize(workspace)
    server.send(message)
    server.send({"jsonrpc": "2.0", "id": "next", "method": "deskmate/noSuchMethod",
                 "params": {}})
    assert server.answer("next", timeout=5)["error"]["code"] == -32601  # in order: all read
    time.sleep(0.05)

    assert [a.get("error", {}).get("code") for a in server.answers("bad")] == [code]


def processes_of(home: str) -> list[int]:
    """Processes whose environment has HOME=`home` (unique per test): the server and
    anything it started."""
    found = []
    needle = f"HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to find processes")
def test_closing_stdin_mid_work_ends_the_server_without_orphans(
    raw_server: Any, workspace: Path, fault_server: ModelServer, hermetic_env: dict[str, str]
) -> None:
    fault_server.reply = Reply(hang=True)  # a completion stays in flight
    for d in range(20):  # enough files for the index to parse in worker processes
        folder = workspace / f"d{d:02}"
        folder.mkdir()
        for f in range(40):
            (folder / f"m{f:02}.py").write_text("".join(
                f"def h_{d}_{f}_{k}(x):\n    return x + {k}\n\n\n" for k in range(20)))
    server: RawServer = raw_server()
    server.initialize(workspace, fast_profile(fault_server))
    uri = (workspace / "m.py").as_uri()
    server.send(open_notification(uri, SOURCE))
    server.send(inline_request("in-flight", uri))
    assert fault_server.wait_for(lambda: fault_server.posts(), timeout=10)
    home = hermetic_env["HOME"]
    started = time.monotonic()
    while len(processes_of(home)) < 2 and time.monotonic() - started < 10:
        time.sleep(0.005)  # until the index's worker processes are up
    busy = processes_of(home)
    assert server.proc.stdin is not None
    closed_at = time.monotonic()
    server.proc.stdin.close()  # the editor went away
    server.proc.wait(10)
    exit_s = time.monotonic() - closed_at
    left: list[int] = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and (left := processes_of(home)):
        time.sleep(0.05)

    assert len(busy) >= 2, "the index never started worker processes"
    assert exit_s < 5.0
    assert left == []  # no orphan worker
    assert fault_server.wait_for(lambda: fault_server.posts()[0].outcome == "client-closed", 3)
