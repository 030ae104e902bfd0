"""Fixtures for the reliability suite: backends that misbehave in every way a network can, and
helpers to drive the real server process through them.

The model servers are real sockets on 127.0.0.1 (`tests.fakes.model_server`); the language
server is the real `deskmate serve` process driven by pytest-lsp (`tests.lsp.conftest`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import SERVER, plain, running_client

# The job deadline the backend-fault cases run under, and the slack allowed past it (process
# scheduling on a loaded 2-core machine, the LSP round trip).
DEADLINE_MS = 1500
SLACK_S = 1.0
def serving(
    env: dict[str, str], *, shutdown_s: float = 10.0, **options: Any
) -> AbstractAsyncContextManager[LanguageClient]:
    """`tests.lsp.conftest.running_client` with a bounded start-up and shutdown: a hung
    server fails the test instead of hanging the suite."""
    return running_client(env, shutdown_s=shutdown_s, **options)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def fault_server() -> Iterator[ModelServer]:
    """A second model server for the misbehaving profile (the session's `model_server` stays
    the healthy one)."""
    server = ModelServer(reply=Reply()).start()
    yield server
    server.stop()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def connect_hangs() -> Iterator[int]:
    """A port where connecting hangs: a listener with backlog 0 that never accepts, its
    accept queue already full. Linux then drops further SYNs (no RST), so the client's
    connect waits for a SYN-ACK that never comes, exactly like a firewalled host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
        time.sleep(0.02)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
    except TimeoutError:
        pass
    else:
        pytest.fail("the full accept queue still accepted a connection; cannot simulate a "
                    "hanging connect here")
    finally:
        probe.close()
    yield port
    for s in [*fillers, listener]:
        s.close()


def warnings_shown(client: LanguageClient) -> list[str]:
    """window/showMessage warnings and errors the user saw."""
    return [m.message for m in client.messages
            if m.type in (types.MessageType.Warning, types.MessageType.Error)]


def items_of(result: Any) -> list[str]:
    assert isinstance(result, types.InlineCompletionList), result
    return [str(item.insert_text) for item in result.items]


async def wait_for_log(client: LanguageClient, needle: str, *, after: int = 0,
                       within_s: float = 10.0) -> None:
    """Until a window/logMessage from index `after` on contains `needle`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if any(needle in m.message for m in client.log_messages[after:]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no log message with {needle!r}: "
                         f"{[m.message for m in client.log_messages]}")


async def switch_route(client: LanguageClient, *profiles: str) -> None:
    """Route completion to `profiles` the way an editor does it: new `workspace/configuration`
    and `workspace/didChangeConfiguration`; returns once the server has reloaded."""
    seen = len(client.log_messages)
    client.set_configuration({"route": {"completion": list(profiles)}}, section="deskmate")
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    await wait_for_log(client, "completion uses: " + ", ".join(profiles), after=seen)


async def context_report(client: LanguageClient, uri: str, line: int, character: int) -> Any:
    """`deskmate/context` at a position, as plain data (None when the server answers null)."""
    result = await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
    return plain(result)


# --------------------------------------------------------------------------- raw stdio


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


class RawServer:
    """`deskmate serve` on raw pipes: the test writes bytes, a thread collects the frames."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([*SERVER, "-v"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.messages: list[dict[str, Any]] = []
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._errors = threading.Thread(target=self._read_stderr, daemon=True)
        self._errors.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line == b"\r\n":
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            assert length is not None, "a frame without Content-Length"
            self.messages.append(json.loads(stream.read(length)))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line

    def send(self, data: bytes | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data if isinstance(data, bytes) else frame(data))
        self.proc.stdin.flush()

    def answer(self, msg_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The response to request `msg_id` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.answers(msg_id)
            if found:
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"no answer to request {msg_id!r}; got {self.messages}")

    def answers(self, msg_id: Any) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m.get("id") == msg_id and "method" not in m]

    def initialize(self, root: Path, options: dict[str, Any] | None = None) -> None:
        self.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "processId": None, "rootUri": root.as_uri(), "capabilities": {},
            "initializationOptions": options}})
        assert "result" in self.answer("init")
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for thread in (self._reader, self._errors):
            thread.join(5)  # they end at the end of their stream
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


@pytest.fixture
def raw_server(hermetic_env: dict[str, str]) -> Iterator[Any]:
    """Start `deskmate serve` on raw pipes with `raw_server()`; killed at the end."""
    started: list[RawServer] = []

    def start() -> RawServer:
        server = RawServer(hermetic_env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
