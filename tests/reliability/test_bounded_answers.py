"""Bounded answers (issue 9, item 10): whatever a model server sends — a gzip bomb, a body of
hundreds of MB, a line that never ends, an answer far longer than max_tokens allows — the
request ends at once with one clear message naming the profile, the server process stays
small and goes on serving, and `deskmate complete` prints that message instead of dying.

Bytes read (decompressed), line length and answer length are capped for every backend,
streamed or not. Each face also gets control cases (a gzip answer, a plain one) that must be
answered, so a cap that refused everything would fail here. `bench/bounded_answers.py`
reports the peak memory of each case at the issue's full sizes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_server import ModelServer, Reply, gzip_bomb
from tests.lsp.conftest import inline_params, open_doc
from tests.reliability.conftest import items_of, serving, switch_route, warnings_shown

SOURCE = "def add(a, b):\n    return \n"
SSE, NDJSON = "text/event-stream", "application/x-ndjson"
BLOCK = b"a" * 65536
BOMB = gzip_bomb(2_000_000)  # 2 MB that inflate to ~2 GB
DEADLINE_MS = 10_000  # the caps, not the deadline, must end these requests...
WITHIN_S = 4.0  # ...well before it
PEAK_MB = 400  # the server idles at ~100 MB; an uncapped case takes GBs
LARGER, LONGER, MAX_TOKENS = "is larger than", "is longer than", "does not respect max_tokens"


@dataclass(frozen=True)
class Case:
    backend: str
    reply: Reply
    expect: str  # in the one message; '' for a control case, which must be answered


CASES = {
    "gzip-bomb-json": Case("openai", Reply(raw_body=BOMB, content_encoding="gzip"), LARGER),
    "gzip-bomb-sse": Case("openai", Reply(raw_body=BOMB, content_encoding="gzip",
                                          content_type=SSE), LONGER),
    "gzip-bomb-ndjson": Case("ollama", Reply(raw_body=BOMB, content_encoding="gzip",
                                             content_type=NDJSON), LONGER),
    "gzip-bomb-error-page": Case("openai", Reply(status=500, raw_body=BOMB,
                                                 content_encoding="gzip"), "HTTP 500"),
    "huge-json-body": Case("openai", Reply(raw_body=b'{"choices": [{"text": "', repeat=BLOCK,
                                           repeat_bytes=200 << 20), LARGER),
    "endless-keep-alives": Case("openai", Reply(raw_body=b"", repeat=b": keep-alive\n" * 4096,
                                                content_type=SSE), LARGER),
    "endless-sse-line": Case("openai", Reply(raw_body=b'data: {"choices": [{"text": "',
                                             repeat=BLOCK, content_type=SSE), LONGER),
    "endless-ndjson-line": Case("ollama", Reply(raw_body=b'{"response": "', repeat=BLOCK,
                                                content_type=NDJSON), LONGER),
    "endless-sse-line-no-newline-gzip": Case("llamacpp", Reply(
        raw_body=gzip_bomb(1_000_000), content_encoding="gzip", content_type=SSE), LONGER),
    "endless-valid-chunks": Case("openai", Reply(
        raw_body=b"", content_type=SSE,
        repeat=b'data: {"choices": [{"text": "a + b ", "finish_reason": null}]}\n\n' * 64),
        MAX_TOKENS),
    "300k-char-line": Case("openai", Reply(text="x" * 300_000, pieces=30), MAX_TOKENS),
    "300k-char-line-whole": Case("ollama", Reply(text="y" * 300_000, stream=False), MAX_TOKENS),
    "long-answer-anthropic": Case("anthropic", Reply(text="z" * 50_000, pieces=10), MAX_TOKENS),
    "long-answer-llamacpp": Case("llamacpp", Reply(text="w" * 50_000, pieces=10), MAX_TOKENS),
    "control-gzip-stream": Case("openai", Reply(text="a + b", gzip=True), ""),
    "control-gzip-whole": Case("ollama", Reply(text="a + b", gzip=True, stream=False), ""),
    "control-plain": Case("mistral", Reply(text="a + b"), ""),
}


def bad_profile(case: Case, server: ModelServer) -> dict[str, Any]:
    url = f"{server.url}/v1" if case.backend == "openai" else server.url
    return {"backend": case.backend, "url": url, "model": "test-model", "api_key_env": "",
            **({"fim": "starcoder"} if case.backend == "openai" else {})}


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# --------------------------------------------------------------------------- the LSP server


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_the_server_caps_what_an_answer_may_take(
    case: Case, model_server: ModelServer, fault_server: ModelServer,
    hermetic_env: dict[str, str], workspace: Path,
) -> None:
    model_server.reply = Reply(text="a + b")
    fault_server.reply = case.reply
    options = {
        "profiles": {"bad": bad_profile(case, fault_server),
                     "fast": {"backend": "openai", "url": f"{model_server.url}/v1",
                              "model": "test-model", "fim": "starcoder"}},
        "route": {"completion": ["bad"]},
        "completion": {"debounce_ms": 0, "deadline_ms": DEADLINE_MS},
    }
    async with serving(hermetic_env, root=workspace, init_options=options,
                       configuration={}) as client:
        uri = open_doc(client, workspace / "m.py", SOURCE)
        started = time.monotonic()
        result = await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
        elapsed = time.monotonic() - started
        await asyncio.sleep(0.1)  # a late message would arrive by now
        shown = warnings_shown(client)
        assert client._server is not None
        peak = peak_rss_mb(client._server.pid)
        await switch_route(client, "fast")
        healthy = items_of(await client.text_document_inline_completion_async(
            inline_params(uri, 1, 11)))

    assert elapsed < WITHIN_S, elapsed
    assert peak < PEAK_MB, f"the server peaked at {peak:.0f} MB"
    assert healthy == ["a + b"]  # the server kept serving
    if not case.expect:
        assert (items_of(result), shown) == (["a + b"], [])
        return
    assert items_of(result) == []  # never a truncated or inflated answer as a suggestion
    [message] = shown
    assert "profile 'bad'" in message
    assert case.expect in message
    assert len(fault_server.posts()) == 1


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str],
                                                                    float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "deskmate.server", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, encoding="utf-8", timeout=60,
                          check=False)
    return done, time.monotonic() - started


def config_for(tmp_path: Path, case: Case, server: ModelServer) -> Path:
    profile = bad_profile(case, server)
    lines = ["[completion]", f"deadline_ms = {DEADLINE_MS}", "[profiles.bad]"]
    lines += [f'{key} = "{value}"' for key, value in profile.items()]
    lines += ["[route]", 'completion = ["bad"]']
    path = tmp_path / "deskmate.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_the_cli_caps_what_an_answer_may_take(
    case: Case, fault_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    tmp_path: Path,
) -> None:
    fault_server.reply = case.reply
    (workspace / "m.py").write_text(SOURCE, encoding="utf-8")
    config = config_for(tmp_path, case, fault_server)

    done, elapsed = cli(["complete", "m.py:2:12", "--config", str(config), "--workspace",
                         str(workspace)], hermetic_env, workspace)

    assert elapsed < WITHIN_S + 3, elapsed  # + the CLI's start-up and index
    assert "Traceback" not in done.stderr
    if not case.expect:
        assert (done.returncode, done.stdout, done.stderr) == (0, "a + b\n", "")
        return
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.splitlines()  # one line, saying what is wrong and where
    assert line.startswith("deskmate: profile 'bad': ")
    assert case.expect in line
