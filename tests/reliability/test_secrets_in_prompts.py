"""No secret reaches a model: the real server, a workspace whose open document and whose
retrieved cross-file definition both hold secrets, and a recording model server that shows
what was actually sent. Completions never re-insert the placeholder."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest
from lsprotocol import types

from deskmate.context.redact import PLACEHOLDER
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import (
    fast_profile,
    inline_params,
    open_doc,
    plain,
    running_client,
    wait_for_index,
)

_RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def _fake(prefix: str, size: int) -> str:
    return prefix + "".join(_RNG.choice(ALNUM) for _ in range(size - 3)) + "aZ9"


# Made at run time, with the real shapes (no key-shaped literal in the repository).
GITHUB = _fake("ghp_", 36)
STRIPE = _fake("sk_live_", 24)
OPENAI = _fake("sk-", 48)
PASSWORD = _fake("", 18)
SECRETS = (GITHUB, STRIPE, OPENAI, PASSWORD)

PRICING = f'''"""Prices."""


def compute_total(items, tax, token="{GITHUB}"):
    """The sum of item prices plus tax."""
    stripe.api_key = "{STRIPE}"
    subtotal = sum(item.price for item in items)
    return subtotal * (1 + tax)
'''
APP = f'''from shop.pricing import compute_total

OPENAI_KEY = "{OPENAI}"
DB_PASSWORD = "{PASSWORD}"


def checkout(cart):
''' + "    total = \n"
CURSOR = (7, 12)  # after "    total = "


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "pricing.py").write_text(PRICING)
    (root / "shop" / "app.py").write_text(APP)
    return root


def sent(model_server: ModelServer) -> str:
    """Everything the model server received, as one text."""
    return "\n".join(json.dumps(post.body, ensure_ascii=False)
                     for post in model_server.posts())


@pytest.mark.parametrize("backend", ["openai", "llamacpp"])
async def test_no_secret_reaches_the_backend_from_the_document_or_a_retrieved_definition(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path, backend: str
) -> None:
    model_server.reply = Reply(text="compute_total(cart.items, 0.2)")
    overrides = {"backend": "llamacpp", "url": model_server.url} if backend == "llamacpp" \
        else {}
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server, **overrides)) as client:
        await wait_for_index(client, within_s=20)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        result = await client.text_document_inline_completion_async(inline_params(uri, *CURSOR))

    assert isinstance(result, types.InlineCompletionList)
    assert [i.insert_text for i in result.items] == ["compute_total(cart.items, 0.2)"]
    [post] = model_server.posts()
    body = sent(model_server)
    for secret in SECRETS:
        assert secret not in body
    # The cross-file definition and the document were sent, each with its secrets replaced.
    assert f'def compute_total(items, tax, token=\\"{PLACEHOLDER}\\"):' in body
    assert f'stripe.api_key = \\"{PLACEHOLDER}\\"' in body
    assert f'OPENAI_KEY = \\"{PLACEHOLDER}\\"' in body
    assert f'DB_PASSWORD = \\"{PLACEHOLDER}\\"' in body
    # The cursor did not move: the prefix still ends where the user is typing.
    prefix = post.body["input_prefix"] if backend == "llamacpp" else \
        post.body["prompt"].split("<fim_suffix>")[0]
    assert prefix.endswith("def checkout(cart):\n    total = ")


async def test_a_reply_with_the_placeholder_is_cut_before_it(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.queue(
        Reply(text=PLACEHOLDER),
        Reply(text=f'compute_total(cart.items, 0.2)\n    key = "{PLACEHOLDER}"'),
    )
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=20)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        results = [await client.text_document_inline_completion_async(
            inline_params(uri, *CURSOR)) for _ in range(2)]

    items = [[str(i.insert_text) for i in r.items] for r in results
             if isinstance(r, types.InlineCompletionList)]
    # Nothing but the placeholder: no suggestion. Text, then the placeholder on a later line:
    # the lines before it.
    assert items == [[], ["compute_total(cart.items, 0.2)"]]
    assert len(model_server.posts()) == 2


async def test_the_context_report_counts_the_redactions(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    async with running_client(hermetic_env, root=workspace,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=20)
        uri = open_doc(client, workspace / "shop" / "app.py", APP)
        report = plain(await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": uri},
            "position": {"line": CURSOR[0], "character": CURSOR[1]}}))

    assert report["redactions"] == 4  # two in the document, two in the definition
    assert isinstance(report["redactions"], int)
    assert report["prompt"].count(PLACEHOLDER) == 4
    assert all(secret not in json.dumps(report) for secret in SECRETS)
    assert report["tokens"] <= report["budget"]
    assert model_server.posts() == []  # a context report asks no model
