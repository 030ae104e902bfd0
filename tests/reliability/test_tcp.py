"""`deskmate serve --tcp` (issue 9, item 3): loopback only, a per-run token, one session per
connection, nothing that looks like HTTP.

Before: no authentication and one shared session — a second local connection read the first
editor's documents, got its answers, and could re-initialize it to route code and any env var
(as a Bearer key) to its own server; `curl -X POST` bodies were taken as frames; a
connect-then-close ended the server. Every case here runs the real `deskmate serve --tcp`
process, with raw sockets as its clients and recording model servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import SERVER, fast_profile
from tests.reliability.conftest import frame

SOURCE = "def add(a, b):\n    return \n"
SECRET_CODE = "def add(a, b):\n    return \n# launch code 7431-zebra\n"
ANNOUNCED = re.compile(r"serving LSP on (?:\[(?P<v6>[^\]]+)\]|(?P<v4>[\d.]+)):(?P<port>\d+); "
                       r"token: (?P<token>\S+)")


class TcpClient:
    """One raw connection: the test writes bytes, a thread collects the frames until the
    server closes the connection."""

    def __init__(self, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.sock.settimeout(None)  # an idle editor waits as long as it likes
        self.messages: list[dict[str, Any]] = []
        self.received = b""
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(1 << 16):
                self.received += chunk
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    header, _, rest = buffer.partition(b"\r\n\r\n")
                    length = int(re.search(rb"Content-Length: (\d+)", header)[1])  # type: ignore[index]
                    if len(rest) < length:
                        break
                    self.messages.append(json.loads(rest[:length]))
                    buffer = rest[length:]
        except OSError:
            pass
        self.closed.set()

    def send(self, data: bytes | dict[str, Any]) -> None:
        self.sock.sendall(data if isinstance(data, bytes) else frame(data))

    def answers(self, msg_id: Any) -> list[dict[str, Any]]:
        return [m for m in list(self.messages) if m.get("id") == msg_id and "method" not in m]

    def answer(self, msg_id: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.answers(msg_id):
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"no answer to {msg_id!r}; got {self.messages}")

    def logs(self) -> list[str]:
        return [str(m["params"]["message"]) for m in list(self.messages)
                if m.get("method") in ("window/logMessage", "window/showMessage")]

    def initialize(self, token: str | None, root: Path | None = None,
                   options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send initialize with `token` in initializationOptions; its answer."""
        init_options = dict(options or {})
        if token is not None:
            init_options["token"] = token
        self.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "processId": None, "rootUri": root.as_uri() if root else None, "capabilities": {},
            "initializationOptions": init_options or None}})
        answer = self.answer("init")
        if "result" in answer:
            self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # the FIN goes out now, reader or not
        with contextlib.suppress(OSError):
            self.sock.close()
        self._reader.join(5)


class TcpServer:
    """`deskmate serve --tcp 127.0.0.1:0`: the port and token come from its stderr line."""

    def __init__(self, env: dict[str, str], *args: str, listen: str = "127.0.0.1:0") -> None:
        self.proc = subprocess.Popen([*SERVER, "--tcp", listen, *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.stderr = b""
        self.announced = threading.Event()
        self.host, self.port, self.token = "", 0, ""
        self._errors = threading.Thread(target=self._read_stderr, daemon=True)
        self._errors.start()
        self.clients: list[TcpClient] = []

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr += line
            if not self.announced.is_set() and (
                    found := ANNOUNCED.search(line.decode(errors="replace"))):
                self.host = found["v4"] or found["v6"]
                self.port, self.token = int(found["port"]), found["token"]
                self.announced.set()

    def wait_listening(self) -> TcpServer:
        deadline = time.monotonic() + 20
        while not self.announced.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._errors.join(5)
                raise AssertionError(f"never listened: {self.stderr.decode()[-2000:]}")
        return self

    def connect(self) -> TcpClient:
        client = TcpClient(self.host, self.port)
        self.clients.append(client)
        return client

    def session(self, root: Path, options: dict[str, Any] | None = None) -> TcpClient:
        """A connection that has authenticated and initialized."""
        client = self.connect()
        assert "result" in client.initialize(self.token, root, options)
        return client

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self._errors.join(5)
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def tcp_server(hermetic_env: dict[str, str]) -> Iterator[Any]:
    """Start `deskmate serve --tcp` with `tcp_server(*args)`; killed at the end."""
    started: list[TcpServer] = []

    def start(*args: str, env: dict[str, str] | None = None, listen: str = "127.0.0.1:0"
              ) -> TcpServer:
        server = TcpServer(env or hermetic_env, *args, listen=listen)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def inline_request(msg_id: str, uri: str, line: int = 1, character: int = 11
                   ) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/inlineCompletion",
            "params": {"textDocument": {"uri": uri},
                       "position": {"line": line, "character": character},
                       "context": {"triggerKind": 1}}}


def context_request(msg_id: str, uri: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "deskmate/context", "params": {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}}}


def open_notification(uri: str, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "python", "version": 1, "text": text}}}


def items(answer: dict[str, Any]) -> list[str]:
    return [i["insertText"] for i in answer["result"]["items"]]


def completes(client: TcpClient, uri: str, msg_id: str) -> list[str]:
    client.send(inline_request(msg_id, uri))
    return items(client.answer(msg_id))


# --------------------------------------------------------------------------- where it listens


@pytest.mark.parametrize("listen", [
    "0.0.0.0:0", "[::]:0", "10.0.0.1:0", "192.0.2.7:2087", "[2001:db8::1]:0",
    "[::ffff:127.0.0.1]:0",  # loopback spelled as IPv4-mapped IPv6: refused all the same
])
def test_a_host_that_is_not_loopback_is_refused_with_one_message(
    tcp_server: Any, listen: str
) -> None:
    server: TcpServer = tcp_server(listen=listen)
    server.proc.wait(20)
    server._errors.join(5)
    lines = server.stderr.decode().strip().splitlines()

    assert server.proc.returncode == 1
    [line] = lines  # one message, no traceback
    assert line.startswith(f"deskmate: --tcp {listen}: ")
    assert "loopback only" in line
    assert not server.announced.is_set()


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "localhost:0", "127.0.0.2:0", "[::1]:0"])
def test_loopback_hosts_listen(tcp_server: Any, workspace: Path, listen: str) -> None:
    if listen.startswith("[::1]") and not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    server: TcpServer = tcp_server(listen=listen)
    try:
        server.wait_listening()
    except AssertionError:
        if "[::1]" in listen and "cannot listen" in server.stderr.decode():
            pytest.skip("IPv6 loopback is not configured here")
        raise
    client = server.session(workspace)

    assert server.host in ("127.0.0.1", "127.0.0.2", "::1")
    assert client.answers("init")[0]["result"]["serverInfo"]["name"] == "deskmate"


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.0.1:http", ":2087", "127.0.0.1:70000"])
def test_a_malformed_address_is_one_message(tcp_server: Any, listen: str) -> None:
    server: TcpServer = tcp_server(listen=listen)
    server.proc.wait(20)
    server._errors.join(5)

    assert server.proc.returncode == 1
    assert server.stderr.decode().strip().splitlines() == [
        f"deskmate: --tcp wants HOST:PORT, e.g. 127.0.0.1:2087; got {listen!r}"]


# --------------------------------------------------------------------------- the token


WRONG_TOKENS: dict[str, Any] = {
    "no-options": None,
    "empty": "",
    "other-token": "x" * 43,
    "one-character-off": "<flip-last>",
    "with-a-space": "<append-space>",
    "prefix-only": "<prefix>",
    "a-number": 12345,
    "an-object": {"token": "<right>"},
}


def wrong(token: str, kind: str) -> Any:
    value = WRONG_TOKENS[kind]
    if value == "<flip-last>":
        return token[:-1] + ("A" if token[-1] != "A" else "B")
    if value == "<append-space>":
        return token + " "
    if value == "<prefix>":
        return token[:20]
    if isinstance(value, dict):
        return {"token": token}
    return value


@pytest.mark.parametrize("kind", list(WRONG_TOKENS))
def test_a_client_without_the_right_token_gets_one_error_and_nothing_else(
    tcp_server: Any, workspace: Path, fault_server: ModelServer, model_server: ModelServer,
    hermetic_env: dict[str, str], kind: str,
) -> None:
    """The intruder's initialize would route completions, with an env var as the Bearer key,
    to its own server: it is refused, and so is everything it sends after."""
    server: TcpServer = tcp_server(env={**hermetic_env, "SECRET_ENV_KEY": "sk-from-env-1234"})
    server.wait_listening()
    editor = server.session(workspace, fast_profile(model_server))
    model_server.reply = Reply(text="a + b")
    uri = (workspace / "m.py").as_uri()
    editor.send(open_notification(uri, SECRET_CODE))

    intruder = server.connect()
    options = {**fast_profile(fault_server, api_key_env="SECRET_ENV_KEY")}
    given = wrong(server.token, kind)
    intruder.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
        "processId": None, "rootUri": workspace.as_uri(), "capabilities": {},
        "initializationOptions": None if given is None else {**options, "token": given}}})
    answer = intruder.answer("init")
    with contextlib.suppress(OSError):  # it may already be closed
        intruder.send(inline_request("steal", uri))
        intruder.send(context_request("peek", uri))
    closed = intruder.closed.wait(5)
    control = completes(editor, uri, "control")  # the editor's session is untouched

    assert answer["error"]["code"] == -32600
    assert "initializationOptions.token" in answer["error"]["message"]
    assert "result" not in answer
    assert closed
    assert [m.get("id") for m in intruder.messages] == ["init"]  # one answer, nothing else
    assert fault_server.posts() == []  # no code and no key ever went to the intruder's server
    assert control == ["a + b"]
    assert "launch code" in model_server.posts()[0].body["prompt"]
    assert server.stderr.decode().count(server.token) == 1  # the line saying where and what


FIRST_FRAMES: dict[str, bytes] = {
    "a-notification": frame(open_notification("file:///x.py", "x = 1\n")),
    "another-request": frame(context_request("first", "file:///x.py")),
    "shutdown": frame({"jsonrpc": "2.0", "id": "first", "method": "shutdown"}),
    "exit": frame({"jsonrpc": "2.0", "method": "exit"}),
    "not-json": b"Content-Length: 9\r\n\r\n{not json",
    "a-batch": frame([{"jsonrpc": "2.0", "id": "first", "method": "initialize"}]),  # type: ignore[arg-type]
    "absurd-length": b"Content-Length: 99999999999999\r\n\r\n{}",
    "over-a-mebibyte": b"Content-Length: %d\r\n\r\n" % (2 << 20) + b" " * (2 << 20),
    "deep-nesting": b"Content-Length: 200000\r\n\r\n" + b"[" * 100_000 + b"]" * 100_000,
    "junk-line": b"hello there\r\n\r\n" + frame({"jsonrpc": "2.0", "method": "exit"}),
    "blank-line-first": b"\r\n" + frame({"jsonrpc": "2.0", "method": "exit"}),
}


@pytest.mark.parametrize("name", list(FIRST_FRAMES))
def test_anything_but_initialize_first_closes_the_connection(
    tcp_server: Any, workspace: Path, name: str
) -> None:
    server: TcpServer = tcp_server()
    server.wait_listening()
    intruder = server.connect()
    # The server may close while a long first frame is still being sent: the rest of the
    # send then meets a reset, which is the closing this test expects.
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):
        intruder.send(FIRST_FRAMES[name])
    closed = intruder.closed.wait(8)
    after = server.session(workspace)  # the listener goes on

    assert closed
    for message in intruder.messages:  # at most an error answer; never a result
        assert "result" not in message
        assert message.get("method") is None
        assert message["error"]["code"] == -32600
    assert server.alive()
    assert "result" in after.answers("init")[0]


# --------------------------------------------------------------------------- HTTP


def lsp_initialize(token: str) -> bytes:
    return frame({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
        "processId": None, "rootUri": None, "capabilities": {},
        "initializationOptions": {"token": token}}})


HTTP: dict[str, Any] = {
    # A POST whose body is a well-formed initialize carrying the right token: even so.
    "curl-post": lambda body: b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5\r\n"
                              b"Content-Type: application/x-www-form-urlencoded\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
    "browser-no-cors-post": lambda body: b"POST /x HTTP/1.1\r\nHost: localhost\r\n"
                                         b"Origin: http://evil.example\r\n"
                                         b"Content-Type: text/plain\r\n"
                                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
    "get": lambda body: b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + body,
    "cors-preflight": lambda body: b"OPTIONS / HTTP/1.1\r\nOrigin: http://evil.example\r\n"
                                   b"Access-Control-Request-Method: POST\r\n\r\n" + body,
    "websocket-upgrade": lambda body: b"GET /lsp HTTP/1.1\r\nUpgrade: websocket\r\n"
                                      b"Connection: Upgrade\r\n\r\n" + body,
    "http2-preface": lambda body: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + body,
    "http-0.9": lambda body: b"GET /\r\n" + body,
    "host-header-before-lsp": lambda body: b"Host: 127.0.0.1\r\n" + body,
    "origin-header-among-lsp-headers": lambda body: body.replace(
        b"\r\n\r\n", b"\r\nOrigin: http://evil.example\r\n\r\n", 1),
}


@pytest.mark.parametrize("name", list(HTTP))
def test_anything_that_looks_like_http_is_closed_unanswered(
    tcp_server: Any, workspace: Path, name: str
) -> None:
    server: TcpServer = tcp_server()
    server.wait_listening()
    intruder = server.connect()
    intruder.send(HTTP[name](lsp_initialize(server.token)))
    closed = intruder.closed.wait(8)
    control = server.connect()
    control.send(lsp_initialize(server.token))  # the same bytes, without the HTTP around them

    assert closed
    assert intruder.received == b""  # not one byte back: no answer, no error, no HTTP reply
    assert "result" in control.answer("init")
    assert server.alive()


def test_a_real_http_client_gets_no_response(tcp_server: Any) -> None:
    server: TcpServer = tcp_server()
    server.wait_listening()
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("POST", "/", body=lsp_initialize(server.token),
                           headers={"Content-Type": "text/plain", "Origin": "http://x.example"})
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            connection.getresponse()
    finally:
        connection.close()
    assert server.alive()


# --------------------------------------------------------------------------- sessions


def test_each_connection_is_a_session_of_its_own(
    tcp_server: Any, workspace: Path, model_server: ModelServer, fault_server: ModelServer,
) -> None:
    """Two editors with the token: neither sees the other's documents, answers, settings or
    log lines; re-initializing one leaves the other as it was."""
    server: TcpServer = tcp_server()
    server.wait_listening()
    model_server.reply = Reply(text="from-a")
    fault_server.reply = Reply(text="from-b")
    # A setting only the first editor's session warns about: a marker for its log lines.
    marked = fast_profile(model_server)
    marked["completion"]["max_tokens"] = "alpha-marker"
    first = server.session(workspace, marked)
    second = server.session(workspace, fast_profile(fault_server))
    a_uri = (workspace / "alpha_private.py").as_uri()
    b_uri = (workspace / "beta.py").as_uri()
    first.send(open_notification(a_uri, SECRET_CODE))
    assert completes(first, a_uri, "a1") == ["from-a"]

    # The second editor asks about the first one's document: it is not open in its session.
    second.send(context_request("peek", a_uri))
    peek = second.answer("peek")
    steal = completes(second, a_uri, "steal")
    # It opens its own, re-initializes, and completes: its own server only.
    second.send(open_notification(b_uri, SOURCE))
    second.send({"jsonrpc": "2.0", "id": "re-init", "method": "initialize", "params": {
        "processId": None, "rootUri": workspace.as_uri(), "capabilities": {},
        "initializationOptions": fast_profile(fault_server)}})
    second.answer("re-init")
    own = completes(second, b_uri, "b1")
    again = completes(first, a_uri, "a2")  # after the other's re-initialize: unchanged

    assert peek["result"] is None
    assert steal == []
    assert own == ["from-b"]
    assert again == ["from-a"]
    assert all("launch code" not in json.dumps(p.body) for p in fault_server.posts())
    assert all("beta" not in json.dumps(p.body) for p in model_server.posts())
    assert any("alpha-marker" in line for line in first.logs())  # the marker is logged...
    assert not any("alpha-marker" in line for line in second.logs())  # ...to its editor only
    assert not any("beta" in line for line in first.logs())
    assert [m["id"] for m in first.messages if "id" in m and "method" not in m] == [
        "init", "a1", "a2"]


def test_closing_connections_never_ends_the_server_or_another_session(
    tcp_server: Any, workspace: Path, model_server: ModelServer,
) -> None:
    model_server.reply = Reply(text="a + b")
    server: TcpServer = tcp_server()
    server.wait_listening()
    editor = server.session(workspace, fast_profile(model_server))
    uri = (workspace / "m.py").as_uri()
    editor.send(open_notification(uri, SOURCE))
    assert completes(editor, uri, "before") == ["a + b"]

    for _ in range(3):  # connect, then close at once
        server.connect().close()
    half = server.connect()  # half a header, then gone
    half.send(b"Content-Len")
    half.close()
    dropped = server.session(workspace, fast_profile(model_server))  # gone mid-request
    dropped.send(open_notification((workspace / "d.py").as_uri(), SOURCE))
    dropped.send(inline_request("in-flight", (workspace / "d.py").as_uri()))
    dropped.close()
    polite = server.session(workspace)  # shutdown and exit, as an editor closes
    polite.send({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"})
    polite.send({"jsonrpc": "2.0", "method": "exit"})
    polite_closed = polite.closed.wait(5)
    rude = server.session(workspace)  # exit without shutdown
    rude.send({"jsonrpc": "2.0", "method": "exit"})
    rude_closed = rude.closed.wait(5)
    time.sleep(0.3)

    assert polite_closed
    assert rude_closed
    assert "result" in polite.answer("bye")  # answered before the connection closed
    assert server.alive()
    assert completes(editor, uri, "after") == ["a + b"]
    assert "result" in server.session(workspace).answers("init")[0]  # and new ones are taken


def test_a_connection_that_never_authenticates_is_closed(
    tcp_server: Any, workspace: Path
) -> None:
    server: TcpServer = tcp_server()
    server.wait_listening()
    silent = server.connect()
    started = time.monotonic()
    slow = server.connect()
    slow.send(b"Content-Length: 100\r\n\r\n{")  # a frame that never ends
    editor = server.session(workspace)  # meanwhile, a real editor is served
    closed = silent.closed.wait(15) and slow.closed.wait(5)
    waited = time.monotonic() - started

    assert "result" in editor.answers("init")[0]
    assert closed
    assert 4.0 <= waited < 10.0  # AUTH_TIMEOUT_S (5 s), not at once and not never
    assert silent.received == b""
    assert slow.received == b""


# --------------------------------------------------------------------------- token file


def token_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "deskmate.token"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_token_file_is_used_and_never_printed(
    tcp_server: Any, workspace: Path, tmp_path: Path
) -> None:
    token = "tok-" + "9f8e7d6c5b4a" * 3
    path = token_file(tmp_path, token + "\n")
    server: TcpServer = tcp_server("--token-file", str(path), "-vvv")
    server.wait_listening()
    good = server.connect()
    answer = good.initialize(token, workspace)
    bad = server.connect()
    refused = bad.initialize(token[:-1] + "0", workspace)
    time.sleep(0.3)

    assert "result" in answer
    assert refused["error"]["code"] == -32600
    assert f"token: from {path} " in server.stderr.decode()  # where it is, not what
    assert token not in server.stderr.decode()  # not even at -vvv, with pygls' own logging
    assert not any(token in line for line in good.logs())


def test_a_printed_token_is_printed_once(tcp_server: Any, workspace: Path) -> None:
    server: TcpServer = tcp_server("-vvv")
    server.wait_listening()
    client = server.session(workspace)
    client.send(context_request("c", (workspace / "m.py").as_uri()))
    client.answer("c")
    time.sleep(0.3)

    assert server.stderr.decode().count(server.token) == 1
    assert not any(server.token in line for line in client.logs())


@pytest.mark.parametrize(("text", "mode", "says"), [
    ("a-good-long-token-123456", 0o644, "other users can read it; run `chmod 600"),
    ("a-good-long-token-123456", 0o640, "other users can read it; run `chmod 600"),
    ("short", 0o600, "must be 16 to 4096 printable ASCII characters"),
    ("has a space in the middle", 0o600, "must be 16 to 4096 printable ASCII characters"),
    ("", 0o600, "must be 16 to 4096 printable ASCII characters"),
    (None, 0o600, "cannot read it"),
])
def test_a_bad_token_file_is_one_message(
    tcp_server: Any, tmp_path: Path, text: str | None, mode: int, says: str
) -> None:
    path = tmp_path / "missing.token" if text is None else token_file(tmp_path, text, mode)
    server: TcpServer = tcp_server("--token-file", str(path))
    server.proc.wait(20)
    server._errors.join(5)
    [line] = server.stderr.decode().strip().splitlines()

    assert server.proc.returncode == 1
    assert line.startswith(f"deskmate: --token-file {path}: ")
    assert says in line


def test_a_token_file_without_tcp_is_one_message(
    hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    path = token_file(tmp_path, "a-good-long-token-123456")
    result = subprocess.run([*SERVER, "--token-file", str(path)], capture_output=True,
                            env=hermetic_env, timeout=30, stdin=subprocess.DEVNULL, check=False)

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "deskmate: --token-file goes with --tcp HOST:PORT (stdio needs no token)")
