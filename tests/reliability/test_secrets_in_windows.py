"""A private key in an allowed file never leaves through a window that holds neither of its
markers: the `recent` window around an edit inside the key, and the `similar` windows over two
test files that share the key. The real server (after real `didChange` edits) and the real
`deskmate complete`, against the recording model server on 127.0.0.1.

Each case also checks that the window it is about *was* sent (the recent window's run of
placeholders, a line of the other test file), so it fails if the window is simply dropped."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

from lsprotocol import types

from deskmate.context.redact import PLACEHOLDER
from tests.fakes.model_server import ModelServer, Reply
from tests.lsp.conftest import fast_profile, inline_params, open_doc, running_client, wait_for_index

DESKMATE = [sys.executable, "-m", "deskmate.server"]
BASE64 = string.ascii_letters + string.digits + "+/"
_RNG = random.Random(2048)
# The 50 body lines of a 4096-bit RSA key, made at run time (no key literal in the repository).
BODY = ["".join(_RNG.choice(BASE64) for _ in range(64)) for _ in range(49)] + \
    ["".join(_RNG.choice(BASE64) for _ in range(40)) + "=="]
KEY_LINES = ["-----BEGIN RSA PRIVATE KEY-----", *BODY, "-----END RSA PRIVATE KEY-----"]


def tls_test(name: str) -> str:
    """A test module holding the key in a triple-quoted string, between ordinary code."""
    return (f'"""TLS fixtures for {name}."""\n\nimport ssl\n\nSERVER_KEY = """\\\n'
            + "\n".join(KEY_LINES) + '\n"""\n'
            + f'FIXTURE_LABEL = "tls-fixture-{name}"\n\n\n'
            f"def test_{name}_handshake(context_factory):\n"
            f"    context = context_factory(SERVER_KEY)\n"
            f"    assert context.verify_mode == ssl.CERT_REQUIRED\n")


APP = "import ssl\n\n\ndef make_context(key):\n    context = \n"
CURSOR = (4, 14)  # after "    context = "


def sent(server: ModelServer) -> str:
    return "\n".join(json.dumps(post.body, ensure_ascii=False) for post in server.posts())


def leaked(body: str) -> list[int]:
    """The numbers of the key's body lines found in what was sent."""
    return [number for number, line in enumerate(BODY, 1) if line in body]


def test_the_tls_module_holds_the_key_on_the_lines_the_cases_expect() -> None:
    lines = tls_test("a").splitlines()
    assert lines[5] == KEY_LINES[0]
    assert lines[56] == KEY_LINES[-1]
    assert lines[58] == 'FIXTURE_LABEL = "tls-fixture-a"'


async def test_an_edit_inside_a_key_sends_none_of_its_lines_in_the_recent_window(
    model_server: ModelServer, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    (root / "tests").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "tests" / "test_tls.py").write_text(tls_test("a"))
    model_server.reply = Reply(text="ssl.create_default_context()")
    async with running_client(hermetic_env, root=root,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=20)
        tls = open_doc(client, root / "tests" / "test_tls.py", tls_test("a"))
        # Edit two lines in the middle of the key (0-based 30 and 31): the recent window, ±8
        # lines, holds neither of its markers.
        for version, line in ((2, 30), (3, 31)):
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=tls, version=version),
                content_changes=[types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(line=line, character=0),
                                      end=types.Position(line=line, character=1)),
                    text="Q")]))
        uri = open_doc(client, root / "app.py", APP)
        result = await client.text_document_inline_completion_async(inline_params(uri, *CURSOR))

    assert isinstance(result, types.InlineCompletionList)
    body = sent(model_server)
    # The recent window was sent: the key's 17 lines around the edits, each one replaced...
    assert "\\n".join([PLACEHOLDER] * 17) in body
    assert leaked(body) == []  # ...with none of the key's lines
    assert BODY[24][1:] not in body
    assert BODY[25][1:] not in body


async def test_a_key_shared_by_two_test_files_leaves_through_no_similar_window_over_lsp(
    model_server: ModelServer, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    root = _two_test_files(tmp_path)
    model_server.reply = Reply(text="context_factory(SERVER_KEY)")
    text = (root / "tests" / "test_a.py").read_text()
    async with running_client(hermetic_env, root=root,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client, within_s=20)
        uri = open_doc(client, root / "tests" / "test_a.py", text)
        line = len(text.splitlines()) - 1
        result = await client.text_document_inline_completion_async(
            inline_params(uri, line, len("    context = ")))

    assert isinstance(result, types.InlineCompletionList)
    body = sent(model_server)
    assert "tls-fixture-b" in body  # a window of the other test file was sent...
    assert leaked(body) == []  # ...with none of the key's lines


def test_a_key_shared_by_two_test_files_leaves_through_no_similar_window_over_the_cli(
    model_server: ModelServer, hermetic_env: dict[str, str], tmp_path: Path
) -> None:
    root = _two_test_files(tmp_path)
    model_server.reply = Reply(text="context_factory(SERVER_KEY)")
    config = tmp_path / "deskmate.toml"
    config.write_text(f'[profiles.fast]\nbackend = "openai"\nurl = "{model_server.url}/v1"\n'
                      f'model = "test-model"\nfim = "starcoder"\n[route]\ncompletion = ["fast"]\n')
    line = len((root / "tests" / "test_a.py").read_text().splitlines())
    done = subprocess.run(
        [*DESKMATE, "--config", str(config), "--workspace", str(root), "complete",
         f"tests/test_a.py:{line}:{len('    context = ') + 1}"],
        env=hermetic_env, cwd=root, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "context_factory(SERVER_KEY)"
    body = sent(model_server)
    assert "tls-fixture-b" in body
    assert leaked(body) == []


def _two_test_files(tmp_path: Path) -> Path:
    """Two test modules sharing the key; test_a.py ends at an unfinished assignment."""
    root = tmp_path / "ws"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_b.py").write_text(tls_test("b"))
    (root / "tests" / "test_a.py").write_text(
        tls_test("a") + "\n\ndef test_a_resumes(context_factory):\n    context = \n")
    return root
