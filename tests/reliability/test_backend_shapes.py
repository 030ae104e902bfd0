"""Wrongly shaped answers (issue 9, item 15, the backend part): a server that answers with
JSON of the wrong shape (`{"choices": 5}`), JSON nested too deeply to parse, text that is not
text, a redirect, an empty body, or a lone surrogate — through the editor and the command line
alike, the user gets one clear message naming the profile (never an internal error with a
traceback), a lone surrogate becomes U+FFFD instead of crashing the CLI, and the server goes
on serving.

Every case runs against the real `deskmate serve` process and the real `deskmate` CLI, with
the recording fake model server on 127.0.0.1; the control cases (a well-formed answer, one
with a surrogate pair) must come back as answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import inline_params, open_doc
from tests.reliability.conftest import items_of, serving, switch_route, warnings_shown

SOURCE = "def add(a, b):\n    return \n"
SSE, NDJSON = "text/event-stream", "application/x-ndjson"
DEEP = b"[" * 100_000 + b"]" * 100_000
SHAPE = "answered in a shape the"


def sse(*items: bytes) -> bytes:
    return b"".join(b"data: " + item + b"\n\n" for item in items)


@dataclass(frozen=True)
class Case:
    backend: str
    reply: Reply
    expect: str  # in the one message; for a control case, the text that must be answered
    answered: bool = False  # a control case


CASES = {
    "choices-is-a-number": Case("openai", Reply(raw_body=b'{"choices": 5}'), SHAPE),
    "choices-hold-numbers": Case("openai", Reply(raw_body=sse(b'{"choices": [5]}'),
                                                 content_type=SSE), SHAPE),
    "deeply-nested-json": Case("openai", Reply(raw_body=DEEP), "nested too deeply"),
    "deeply-nested-in-stream": Case("llamacpp", Reply(raw_body=sse(DEEP), content_type=SSE),
                                    "nested too deeply"),
    "text-is-an-object": Case("openai", Reply(raw_body=sse(
        b'{"choices": [{"text": {"a": 1}, "finish_reason": "stop"}]}', b'"[DONE]"'),
        content_type=SSE), "answer text that is not a string"),
    "finish-reason-is-a-number": Case("openai", Reply(raw_body=sse(
        b'{"choices": [{"text": "a", "finish_reason": 7}]}', b"[DONE]"), content_type=SSE),
        "finish reason that is not a string"),
    "anthropic-delta-is-a-string": Case("anthropic", Reply(raw_body=sse(
        b'{"type": "content_block_delta", "delta": "a + b"}'), content_type=SSE), SHAPE),
    "anthropic-text-is-a-number": Case("anthropic", Reply(raw_body=sse(
        b'{"type": "content_block_delta", "delta": {"text": 5}}'), content_type=SSE),
        "answer text that is not a string"),
    "ollama-response-is-a-list": Case("ollama", Reply(
        raw_body=b'{"response": ["a"], "done": true}\n', content_type=NDJSON),
        "answer text that is not a string"),
    "ollama-line-is-a-list": Case("ollama", Reply(raw_body=b'[1, 2]\n', content_type=NDJSON),
                                  "unexpected stream item"),
    "llamacpp-error-is-a-list": Case("llamacpp", Reply(raw_body=sse(b'{"error": ["x"]}'),
                                                       content_type=SSE), "reported an error"),
    "mistral-message-is-a-number": Case("mistral", Reply(raw_body=b'{"choices": [{"delta": 5}]}'
                                                         ), SHAPE),
    "redirect-302-empty-json": Case("openai", Reply(
        status=302, raw_body=b"", headers={"Location": "http://elsewhere.test/v1/completions"}),
        "redirects (HTTP 302) to http://elsewhere.test/v1/completions"),
    "redirect-308-https": Case("ollama", Reply(
        status=308, raw_body=b"", headers={"Location": "https://u:p@models.test/api?k=1"}),
        "redirects (HTTP 308) to https://models.test/api;"),
    "redirect-301-relative": Case("llamacpp", Reply(
        status=301, raw_body=b"", headers={"Location": "/v2/infill"}), "/v2/infill;"),
    "empty-json-body": Case("anthropic", Reply(raw_body=b""), "with an empty body"),
    "surrogate-in-error-message": Case("openai", Reply(
        raw_body=b'{"error": {"message": "bad \\ud800 thing"}}'), "bad \ufffd thing"),
    "control-lone-surrogate": Case("openai", Reply(text="a\ud800b"), "a\ufffdb", answered=True),
    "control-surrogate-pair": Case("anthropic", Reply(text="a \U0001f600", pieces=1),
                                   "a \U0001f600", answered=True),
    "control-well-formed": Case("llamacpp", Reply(text="a + b"), "a + b", answered=True),
}


def bad_profile(case: Case, server: ModelServer) -> dict[str, Any]:
    url = f"{server.url}/v1" if case.backend == "openai" else server.url
    return {"backend": case.backend, "url": url, "model": "test-model", "api_key_env": "",
            **({"fim": "starcoder"} if case.backend == "openai" else {})}


# --------------------------------------------------------------------------- the LSP server


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_the_server_reports_a_wrongly_shaped_answer_clearly(
    case: Case, model_server: ModelServer, fault_server: ModelServer,
    hermetic_env: dict[str, str], workspace: Path,
) -> None:
    model_server.reply = Reply(text="a + b")
    fault_server.reply = case.reply
    options = {
        "profiles": {"bad": bad_profile(case, fault_server),
                     "fast": {"backend": "openai", "url": f"{model_server.url}/v1",
                              "model": "test-model", "fim": "starcoder"}},
        "route": {"completion": ["bad"]}, "completion": {"debounce_ms": 0},
    }
    async with serving(hermetic_env, root=workspace, init_options=options,
                       configuration={}) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        # An internal error would raise here (JSON-RPC -32603) instead of answering.
        result = items_of(await client.text_document_inline_completion_async(
            inline_params(uri, 1, 11)))
        await asyncio.sleep(0.1)  # a late message would arrive by now
        shown = warnings_shown(client)
        logged = [m.message for m in client.log_messages]
        await switch_route(client, "fast")
        healthy = items_of(await client.text_document_inline_completion_async(
            inline_params(uri, 1, 11)))

    assert not any("Traceback" in m for m in logged), logged
    assert healthy == ["a + b"]  # the server kept serving
    if case.answered:
        assert (result, shown) == ([case.expect], [])
        return
    assert result == []
    [message] = shown
    assert message.count("profile 'bad'") == 1
    assert case.expect in message
    assert len(fault_server.posts()) == 1  # a redirect was not followed


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deskmate.server", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", errors="strict",
                          timeout=60, check=False)


def config_for(tmp_path: Path, profile: dict[str, Any]) -> Path:
    lines = ["[profiles.bad]", *(f"{k} = {json.dumps(v)}" for k, v in profile.items()),
             "[route]", 'completion = ["bad"]']
    path = tmp_path / "deskmate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_the_cli_reports_a_wrongly_shaped_answer_clearly(
    case: Case, as_json: bool, fault_server: ModelServer, hermetic_env: dict[str, str],
    workspace: Path, tmp_path: Path,
) -> None:
    fault_server.reply = case.reply
    (workspace / "m.py").write_text(SOURCE, encoding="utf-8")
    config = config_for(tmp_path, bad_profile(case, fault_server))
    flags = ["--json"] if as_json else []

    done = cli(["complete", "m.py:2:12", *flags, "--config", str(config), "--workspace",
                str(workspace)], hermetic_env, workspace)

    assert "Traceback" not in done.stderr, done.stderr
    if case.answered:
        assert (done.returncode, done.stderr) == (0, "")
        text = json.loads(done.stdout)["text"] if as_json else done.stdout.removesuffix("\n")
        assert text == case.expect
        return
    assert (done.returncode, done.stdout) == (1, "")
    [line] = done.stderr.splitlines()  # one line
    assert line.startswith("deskmate: profile 'bad': ")
    assert case.expect in line
    assert len(fault_server.posts()) == 1


# --------------------------------------------------------------------------- doctor

LISTS = {
    "data-is-a-number": ({"data": 5}, "did not list models"),
    "items-are-numbers": ({"data": [5, 6]}, "did not list models"),
    "deeply-nested": (DEEP, "nested too deeply"),
    "empty": (b"", "with an empty body"),
    "control": ({"data": [{"id": "test-model"}]}, ""),
}


@pytest.mark.parametrize(("payload", "expect"), list(LISTS.values()), ids=list(LISTS))
def test_doctor_reports_a_wrongly_shaped_model_list_clearly(
    payload: Any, expect: str, fault_server: ModelServer, hermetic_env: dict[str, str],
    workspace: Path, tmp_path: Path,
) -> None:
    fault_server.models_payload = payload
    profile = {"backend": "openai", "url": f"{fault_server.url}/v1", "model": "test-model",
               "fim": "starcoder"}
    config = config_for(tmp_path, profile)

    done = cli(["doctor", "--config", str(config)], hermetic_env, workspace)

    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stdout.splitlines() if "reachable" in line]
    if not expect:
        assert "reachable: yes" in line
        assert "model: test-model is listed" in done.stdout
        return
    assert done.returncode == 1
    assert "reachable: no (profile 'bad': " in line
    assert expect in line
