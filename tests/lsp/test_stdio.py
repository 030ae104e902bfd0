"""stdout carries LSP frames and nothing else, even with debug logging; the server exits when
its editor goes away."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def parse_frames(stream: bytes) -> list[dict[str, Any]]:
    """Split stdout into frames; anything that is not a well-formed frame fails the test."""
    messages = []
    while stream:
        header, sep, rest = stream.partition(b"\r\n\r\n")
        assert sep, f"trailing bytes that are not a frame: {stream[:200]!r}"
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        assert set(fields) <= {b"Content-Length", b"Content-Type"}, header
        length = int(fields[b"Content-Length"])
        body, stream = rest[:length], rest[length:]
        messages.append(json.loads(body))
    return messages


def test_stdout_holds_only_lsp_frames_with_debug_logging(
    model_server: ModelServer, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    uri = (tmp_path / "m.py").as_uri()
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
            "initializationOptions": fast_profile(model_server)}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1,
            "text": "def add(a, b):\n    return \n"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 1, "character": 11},
            "context": {"triggerKind": 1}}},
        {"jsonrpc": "2.0", "id": 3, "method": "deskmate/no-such-method", "params": {}},
    ]
    session = b"".join(frame(m) for m in messages)
    proc = subprocess.Popen([sys.executable, "-m", "deskmate.server", "serve", "-vvv"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=hermetic_env)
    assert proc.stdin is not None
    proc.stdin.write(session)
    proc.stdin.flush()
    assert model_server.wait_for(lambda: model_server.posts(), timeout=10)
    time.sleep(0.5)  # let the answers go out before asking to shut down
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 4, "method": "shutdown"}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    stdout, stderr = proc.communicate(timeout=15)

    messages = parse_frames(stdout)
    answers = {m["id"]: m for m in messages if "id" in m and "method" not in m}
    assert set(answers) == {1, 2, 3, 4}  # every request answered exactly once
    assert answers[2]["result"]["items"][0]["insertText"] == "a + b"
    assert answers[3]["error"]["code"] == -32601  # method not found
    assert b"DEBUG" in stderr  # the logging that did happen went to stderr


def test_server_exits_when_stdin_closes(hermetic_env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "deskmate.server", "serve"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=hermetic_env)
    assert proc.stdin is not None
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                            "params": {"processId": None, "rootUri": None, "capabilities": {}}}))
    proc.stdin.flush()
    time.sleep(0.5)
    try:
        stdout, _ = proc.communicate(input=b"", timeout=10)  # closes stdin, waits for the exit
    finally:
        proc.kill()
    assert proc.returncode is not None
    assert parse_frames(stdout)[0]["id"] == 1


def whole_frame(data: bytes) -> bool:
    header, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = int(header.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return len(body) >= length


def test_serve_over_tcp(hermetic_env: dict[str, str]) -> None:
    """`serve --tcp` on a port the system picks: the line on stderr says where, and the token
    the client sends in initialize."""
    proc = subprocess.Popen([sys.executable, "-m", "deskmate.server", "serve", "--tcp",
                             "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=hermetic_env)
    try:
        assert proc.stderr is not None
        announced = proc.stderr.readline().decode()
        found = re.search(r"serving LSP on 127\.0\.0\.1:(\d+); token: (\S+)", announced)
        assert found is not None, announced
        port, token = int(found[1]), found[2]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                      "params": {"processId": None, "rootUri": None,
                                                 "capabilities": {},
                                                 "initializationOptions": {"token": token}}}))
            received = b""
            while not whole_frame(received):
                chunk = connection.recv(65536)
                assert chunk, "connection closed before the answer"
                received += chunk
    finally:
        proc.kill()
        proc.communicate()

    [answer] = parse_frames(received)
    assert answer["id"] == 1
    assert answer["result"]["serverInfo"]["name"] == "deskmate"
