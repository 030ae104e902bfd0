"""Workspace faults (issue 5, item 4): binary and non-UTF-8 files, symbolic-link loops, files
deleted while the index is being built, and an invalid config file. Indexing survives each,
`deskmate/context` still explains a completion, and the server goes on serving."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, wait_for_index
from tests.reliability.conftest import context_report, items_of, serving, warnings_shown

PRICING = '''"""Prices."""


def compute_total(items, tax):
    """The sum of item prices plus tax."""
    subtotal = sum(item.price for item in items)
    return subtotal * (1 + tax)
'''
APP = "from shop.pricing import compute_total\n\n\ndef checkout(cart):\n    total = \n"
APP_CURSOR = (4, 12)


def shop(workspace: Path) -> str:
    """A small project whose app uses a definition from another file; returns app.py's URI."""
    (workspace / "shop").mkdir()
    (workspace / "shop" / "__init__.py").write_text("")
    (workspace / "shop" / "pricing.py").write_text(PRICING)
    (workspace / "shop" / "app.py").write_text(APP)
    return (workspace / "shop" / "app.py").as_uri()


def definitions(report: dict[str, Any]) -> list[str]:
    return [s["path"] for s in report["sections"] if s["kind"] == "definition" and s["included"]]


def section_paths(report: dict[str, Any]) -> set[str]:
    return {s["path"] for s in report["sections"]}


async def wait_for_index_begin(client: Any) -> None:
    for _ in range(400):
        if client.progress_reports:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("indexing never began")


def index_ended(client: Any) -> bool:
    return any(isinstance(r, types.WorkDoneProgressEnd)
               for reports in client.progress_reports.values() for r in reports)


def trouble_logged(client: Any) -> list[str]:
    """Log lines that say indexing or a handler went wrong."""
    words = ("indexing the workspace failed", "could not index", "Traceback", "Error in server")
    return [m.message for m in client.log_messages if any(w in m.message for w in words)]


def odd_files(odd: Path) -> None:
    """Files the index must skip without tripping over them."""
    odd.mkdir()
    (odd / "nul_bytes.py").write_bytes(b"def from_nul_file():\n    pass\n\x00\x01\x02\xff")
    (odd / "latin1.py").write_bytes("def from_latin1_file():\n    return 'café'\n"
                                    .encode("latin-1"))
    (odd / "utf16.py").write_bytes("def from_utf16_file():\n    pass\n".encode("utf-16"))
    (odd / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (odd / "no_extension").write_bytes(os.urandom(4096))
    (odd / "bom.py").write_bytes("\ufeffdef from_bom_file():\n    pass\n".encode())
    # A file name that is not UTF-8 either (Linux allows any bytes but '/' and NUL).
    with open(os.path.join(os.fsencode(odd), b"caf\xe9.py"), "wb") as f:
        f.write(b"def from_latin1_name():\n    pass\n")


async def complete_in_shop(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> tuple[Any, Any, list[str], list[str]]:
    """Once the index is built, the context report and the completion at the app's cursor,
    then the trouble logged and the warnings shown."""
    model_server.reply = Reply(text="compute_total(cart.items, 0.2)")
    uri = (workspace / "shop" / "app.py").as_uri()
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        open_doc(client, workspace / "shop" / "app.py", APP)
        report = await context_report(client, uri, *APP_CURSOR)
        result = await client.text_document_inline_completion_async(
            inline_params(uri, *APP_CURSOR))
        trouble = trouble_logged(client)
        shown = warnings_shown(client)
    return report, result, trouble, shown


async def test_binary_and_non_utf8_files_do_not_stop_indexing(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    shop(workspace)
    odd_files(workspace / "odd")
    report, result, trouble, shown = await complete_in_shop(model_server, hermetic_env,
                                                            workspace)

    assert definitions(report) == ["shop/pricing.py"]  # the index was built and is used
    assert not section_paths(report) & {"odd/nul_bytes.py", "odd/latin1.py", "odd/utf16.py",
                                        "odd/image.png", "odd/no_extension"}
    for name in ("from_nul_file", "from_latin1_file", "from_utf16_file"):
        assert name not in report["prompt"]
    assert items_of(result) == ["compute_total(cart.items, 0.2)"]
    [post] = model_server.posts()
    assert "def compute_total(items, tax)" in post.body["prompt"]
    assert trouble == []
    assert shown == []


def loops(workspace: Path) -> None:
    (workspace / "self_loop").symlink_to("self_loop")  # a link to itself
    (workspace / "ping.py").symlink_to("pong.py")  # two links pointing at each other
    (workspace / "pong.py").symlink_to("ping.py")
    (workspace / "shop" / "up").symlink_to("..")  # a folder cycle back to the root
    (workspace / "shop" / "here").symlink_to(".")
    (workspace / "deep" / "er").mkdir(parents=True)
    (workspace / "deep" / "er" / "again").symlink_to("../../deep")


async def test_symlink_loops_do_not_stop_indexing(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    shop(workspace)
    loops(workspace)
    report, result, trouble, shown = await complete_in_shop(model_server, hermetic_env,
                                                            workspace)

    assert definitions(report) == ["shop/pricing.py"]  # once, not again under shop/up/...
    assert all("/up/" not in p and "/here/" not in p for p in section_paths(report))
    assert items_of(result) == ["compute_total(cart.items, 0.2)"]
    assert trouble == []
    assert shown == []


async def test_document_opened_through_a_symlink_loop_is_served_or_explained(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    """A buffer at a looping link is excluded by the one rule set (the index skips looping
    links too), so it gets no completion and one explanation; a buffer at a path *through*
    a looping folder is outside the workspace and is served. Neither is an error."""
    model_server.reply = Reply(text="1")
    shop(workspace)
    loops(workspace)
    text = "x = \n"
    # The editor shows a buffer at a path that cannot be resolved (it cannot read the file,
    # the user types into the empty buffer anyway).
    uris = [(workspace / "self_loop").as_uri(), (workspace / "ping.py").as_uri(),
            (workspace / "self_loop" / "inside.py").as_uri()]
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        results = []
        for uri in uris:
            client.text_document_did_open(types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                     text=text)))
            results.append(await client.text_document_inline_completion_async(
                inline_params(uri, 0, 4)))
            client.text_document_did_close(types.DidCloseTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=uri)))
        explained = [m.message for m in client.log_messages
                     if "nothing from it is sent" in m.message]
        shown = warnings_shown(client)

    assert [items_of(r) for r in results] == [[], [], ["1"]]
    assert len(explained) == 2
    assert all("looping link" in m for m in explained), explained
    assert len(model_server.posts()) == 1  # nothing sent for the excluded buffers
    assert shown == []


DIRECTORIES, FILES, FUNCTIONS = 40, 50, 20
DELETED = [f"d{d:02}" for d in range(0, DIRECTORIES, 2)]  # every other folder goes


def many_files(workspace: Path) -> None:
    for d in range(DIRECTORIES):
        folder = workspace / f"d{d:02}"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for f in range(FILES):
            (folder / f"m{f:02}.py").write_text("".join(
                f"def helper_{d}_{f}_{k}(x):\n    '''Add {k}.'''\n    return x + {k}\n\n\n"
                for k in range(FUNCTIONS)))


MAIN = ("from d00.m00 import helper_0_0_1\nfrom d01.m00 import helper_1_0_1\n\n\n"
        "def main(x):\n    a = helper_0_0_1(x)\n    b = helper_1_0_1(x)\n    return \n")


async def test_files_deleted_while_the_index_is_built(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path
) -> None:
    model_server.reply = Reply(text="a + b")
    many_files(workspace)
    main = workspace / "main.py"
    main.write_text(MAIN)
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        # Delete folders while the server walks and parses, telling it as an editor's file
        # watcher would.
        await wait_for_index_begin(client)
        built_before_deleting = None
        for name in DELETED:
            files = sorted((workspace / name).rglob("*.py"))
            if built_before_deleting is None:
                built_before_deleting = index_ended(client)
            await asyncio.to_thread(shutil.rmtree, workspace / name)
            client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=f.as_uri(), type=types.FileChangeType.Deleted)
                         for f in files]))
            await asyncio.sleep(0.02)
        await wait_for_index(client)
        uri = open_doc(client, main, MAIN)
        report = await context_report(client, uri, 7, 11)
        result = await client.text_document_inline_completion_async(inline_params(uri, 7, 11))
        trouble = trouble_logged(client)
        shown = warnings_shown(client)

    assert built_before_deleting is False  # the deletions overlapped the build
    assert definitions(report) == ["d01/m00.py"]  # the index works for what is left...
    assert not any(p.startswith(tuple(f"{d}/" for d in DELETED)) for p in section_paths(report))
    assert "helper_0_0_1(x):" not in report["prompt"]  # ...and forgot what is gone
    assert items_of(result) == ["a + b"]
    assert trouble == []
    assert shown == []


@pytest.mark.parametrize(("content", "expect"), [
    pytest.param(b"[completion\ndeadline_ms = 100\n", "this file is ignored", id="broken-toml"),
    pytest.param(b'[completion]\ndeadline_ms = "soon"\n[context]\nwindow = 10\n',
                 ".deskmate.toml, line 2", id="wrong-types"),
    pytest.param(b"[completion]\ndeadline_ms = 100 # caf\xe9\n", "cannot read", id="not-utf8"),
    pytest.param(b"[nonsense]\nanswer = 42\n[completion]\nwhat = 1\n", "unknown section",
                 id="unknown-keys"),
])
async def test_invalid_config_file_costs_one_message(
    model_server: ModelServer, hermetic_env: dict[str, str], workspace: Path,
    content: bytes, expect: str,
) -> None:
    model_server.reply = Reply(text="a + b")
    (workspace / ".deskmate.toml").write_bytes(content)
    async with serving(hermetic_env, root=workspace,
                       init_options=fast_profile(model_server)) as client:
        uri = open_doc(client, workspace / "m.py", "def add(a, b):\n    return \n")
        results = [await client.text_document_inline_completion_async(
            inline_params(uri, 1, 11)) for _ in range(2)]
        await asyncio.sleep(0.1)
        shown = warnings_shown(client)

    [message] = shown
    assert ".deskmate.toml" in message
    assert expect in message
    assert [items_of(r) for r in results] == [["a + b"]] * 2  # the server serves regardless
