"""Zero config: with no profile at all, Deskmate completes code with the bundled local model,
in-process, with no network (the server runs in a network namespace of its own)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from deskmate.prompts.render import Message
from deskmate.server.backends.base import ChatRequest, generate
from deskmate.server.backends.local import LocalBackend, bundled_model
from deskmate.server.config import LOCAL_PROFILE
from tests.lsp.conftest import capabilities, inline_params, open_doc

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bundled_model() is None, reason="the local extra is not installed"),
]

SOURCE = '''def fibonacci(n):
    """Return the n-th Fibonacci number."""
    if n < 2:
        return n
    return '''


def offline_command() -> list[str]:
    """The server inside a new network namespace (only a down loopback: no network at all),
    when this machine lets us make one."""
    server = [sys.executable, "-m", "deskmate.server", "serve"]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n", *server]
    pytest.skip("cannot create a network namespace here (needs root or user namespaces)")


async def test_zero_config_inline_completion_comes_from_the_local_model_offline(
    hermetic_env: dict[str, str], workspace: Path
) -> None:
    client = await ClientServerConfig(server_command=offline_command(),
                                      server_env=hermetic_env).start()
    assert isinstance(client, LanguageClient)
    try:
        await client.initialize_session(types.InitializeParams(
            capabilities=capabilities("vscode"), root_uri=workspace.as_uri()))
        uri = open_doc(client, workspace / "fib.py", SOURCE)
        line, column = SOURCE.count("\n"), len(SOURCE.rsplit("\n", 1)[1])
        result = await asyncio.wait_for(
            client.text_document_inline_completion_async(inline_params(uri, line, column)), 120)
        shown = [m.message for m in client.messages]
    finally:
        await client.shutdown_session()
        await client.stop()

    assert isinstance(result, types.InlineCompletionList), shown
    assert result.items, f"no suggestion; messages: {shown}"
    assert str(result.items[0].insert_text).strip()
    assert not any("not installed" in m for m in shown)


async def test_the_local_chat_path_answers() -> None:
    backend = LocalBackend(LOCAL_PROFILE)
    request = ChatRequest(messages=(Message("user", "What does this do?\n\n"
                                             "def add(a, b):\n    return a + b\n"),),
                          max_tokens=48, temperature=0.0)

    generation = await asyncio.wait_for(generate(backend, request), 120)

    assert generation.text.strip()
    assert generation.prompt_tokens > 10
    assert 0 < generation.output_tokens <= 48
    assert generation.usage_reported
    assert await backend.window() == 8192  # llama.context_length of the bundled file


def test_the_readme_quickstart_completes_the_sample_file(hermetic_env: dict[str, str]) -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [*offline_command()[:-1], "complete", "examples/stats.py:16:12", "--json"],
        cwd=root, env=hermetic_env, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["profile"] == "local"
    assert report["model"].endswith(".gguf")
    assert report["text"].strip(), report
