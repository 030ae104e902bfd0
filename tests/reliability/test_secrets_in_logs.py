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
