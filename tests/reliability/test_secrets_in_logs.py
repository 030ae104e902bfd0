"""With all the debug logging there is, no API key or Authorization / x-api-key value
appears in the server's logs, the editor's log, or any message."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.test_stdio import frame, parse_frames

KEY = "sk-live-SECRET-0123456789abcdefghijklmnop"


@pytest.mark.parametrize(("backend", "status"), [
    ("openai", 200), ("openai", 401), ("anthropic", 200), ("anthropic", 403),
    ("mistral", 500), ("ollama", 200), ("llamacpp", 429),
])
def test_no_key_in_logs_or_messages_at_the_highest_verbosity(
    model_server: ModelServer, hermetic_env: dict[str, str], tmp_path: Path, backend: str,
    status: int,
) -> None:
    # The fake server echoes the key back in its error body, as real APIs do.
    model_server.reply = (Reply(text="a + b") if status == 200 else
                          Reply(status=status, raw_body=f'{{"error": "bad key {KEY}"}}'.encode()))
    url = model_server.url + ("/v1" if backend == "openai" else "")
    profile = {"backend": backend, "url": url, "model": "m", "api_key_env": "TEAM_KEY",
               "fim": "starcoder"}
    options = {"profiles": {"p": profile}, "route": {"completion": ["p"]},
               "completion": {"debounce_ms": 0}}
    uri = (tmp_path / "m.py").as_uri()
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
            "initializationOptions": options}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "x = \n"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": 4},
            "context": {"triggerKind": 1}}},
    ]
    proc = subprocess.Popen([sys.executable, "-m", "deskmate.server", "serve", "-vvv"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**hermetic_env, "TEAM_KEY": KEY})
    assert proc.stdin is not None
    proc.stdin.write(b"".join(frame(m) for m in messages))
    proc.stdin.flush()
    assert model_server.wait_for(lambda: model_server.posts(), timeout=10)
    time.sleep(0.5)
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    stdout, stderr = proc.communicate(timeout=15)

    [post] = model_server.posts()
    sent = post.headers.get("authorization", "") + post.headers.get("x-api-key", "")
    assert KEY in sent  # the key did go where it belongs...
    everything = stderr.decode() + json.dumps(parse_frames(stdout))
    assert b"DEBUG" in stderr  # ...while everything was being logged...
    assert KEY not in everything  # ...and nowhere else: logs, logMessage, showMessage
    assert KEY[:16] not in everything  # not even cut short


URL_SECRETS = ("pw-SECRET-9f8e7d6c", "QSECRET-0a1b2c3d4e")


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("url", [
    "http://alice:{pw}@127.0.0.1:{port}/v1",
    "http://127.0.0.1:{port}/v1?key={q}",
    "http://127.0.0.1:{port}/v1?api_key={q}&model=m",
])
def test_no_url_credential_in_logs_or_messages_from_either_face(
    hermetic_env: dict[str, str], tmp_path: Path, url: str
) -> None:
    """A profile URL's password or secret query value never reaches a log line or a message,
    from the server or the CLI, at the highest verbosity, when the URL is in an error."""
    pw, q = URL_SECRETS
    profile_url = url.format(pw=pw, q=q, port=closed_port())
    (tmp_path / "m.py").write_text("x = \n")
    config = tmp_path / "c.toml"
    config.write_text(f'[profiles.p]\nbackend = "openai"\nurl = "{profile_url}"\n'
                      f'model = "m"\nfim = "starcoder"\n[route]\ncompletion = ["p"]\n')
    cli = subprocess.run([sys.executable, "-m", "deskmate.server", "complete", "m.py:1:5",
                          "--config", str(config), "-vvv"], cwd=tmp_path, env=hermetic_env,
                         capture_output=True, text=True, timeout=60, check=False)

    uri = (tmp_path / "m.py").as_uri()
    messages: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
            "initializationOptions": {"completion": {"debounce_ms": 0}}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": "x = \n"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": uri}, "position": {"line": 0, "character": 4},
            "context": {"triggerKind": 1}}},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskmate.server", "serve", "--config", str(config), "-vvv"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=hermetic_env)
    assert proc.stdin is not None
    proc.stdin.write(b"".join(frame(m) for m in messages))
    proc.stdin.flush()
    time.sleep(3)  # the refused connection is quick; the request is answered by then
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
    proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.flush()
    stdout, stderr = proc.communicate(timeout=30)

    assert cli.returncode == 1
    assert "cannot connect" in cli.stderr  # the error was there, URL and all...
    everything = cli.stderr + stderr.decode() + json.dumps(parse_frames(stdout))
    assert "cannot connect" in everything.split(cli.stderr, 1)[1]  # ...on both faces
    for secret in URL_SECRETS:
        assert secret not in everything  # ...without its credentials
