"""One rule set decides what may reach a model: .gitignore, .deskmateignore, `[privacy]
exclude` and the built-in secrets. A request inside an excluded document gets nothing and one
explanation in the log; an excluded file never appears in any prompt, open or not."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, running_client

SECRET = "do-not-send-7f3a9c1e5b"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.mark.parametrize(("name", "rule"), [
    (".env", ""),
    ("deploy/id_rsa", ""),
    ("config/credentials.json", ""),
    ("generated/models.py", ".gitignore:generated/"),
    ("vendor/lib.py", ".deskmateignore:vendor/"),
    ("internal/payroll.py", "privacy:internal/**"),
])
async def test_a_request_in_an_excluded_document_sends_nothing(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, name: str,
    rule: str,
) -> None:
    model_server.reply = Reply(text="leak")
    options = fast_profile(model_server)
    kind, _, pattern = rule.partition(":")
    if kind == "privacy":
        options["privacy"] = {"exclude": [pattern]}
    elif kind:
        (workspace / kind).write_text(pattern + "\n")
    path = workspace / name
    path.parent.mkdir(parents=True, exist_ok=True)
    async with running_client(hermetic_env, root=workspace, init_options=options) as client:
        uri = open_doc(client, path, f"TOKEN = '{SECRET}'\nvalue = \n")
        results = [await client.text_document_inline_completion_async(inline_params(uri, 1, 8))
                   for _ in range(2)]
        await asyncio.sleep(0.2)
        logged = [m.message for m in client.log_messages if "nothing from it is sent" in m.message]

    assert all(isinstance(r, types.InlineCompletionList) and not r.items for r in results)
    assert model_server.posts() == []  # nothing was sent
    assert len(logged) == 1  # explained once, not per keystroke
    assert name.rsplit("/", 1)[-1] in logged[0]


async def test_excluded_files_never_reach_a_prompt_of_another_document(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    (workspace / ".gitignore").write_text("generated/\n")
    (workspace / "generated").mkdir()
    (workspace / "internal").mkdir()
    leaky = f"def compute_total(items):\n    return '{SECRET}'\n"
    for path in ("generated/pricing.py", "internal/pricing.py", ".env"):
        (workspace / path).write_text(leaky)
    options = fast_profile(model_server)
    options["privacy"] = {"exclude": ["internal/"]}
    async with running_client(hermetic_env, root=workspace, init_options=options) as client:
        await asyncio.sleep(1.0)  # let the index build
        # The excluded files are open in the editor too, and recently edited.
        for path in ("generated/pricing.py", "internal/pricing.py", ".env"):
            open_doc(client, workspace / path, leaky)
        uri = open_doc(client, workspace / "app.py",
                       "from generated.pricing import compute_total\n"
                       "from internal.pricing import compute_total as c2\n\n"
                       "total = compute_total([])\nvalue = \n")
        await client.text_document_inline_completion_async(inline_params(uri, 4, 8))
        report = await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": uri}, "position": {"line": 4, "character": 8}})

    # Not even considered: no section of any kind comes from an excluded file.
    considered = {section.path for section in report.sections}
    assert considered <= {"app.py", ".gitignore"}, considered
    [post] = model_server.posts()
    assert SECRET not in post.body["prompt"]
    assert "compute_total(items)" not in post.body["prompt"]
