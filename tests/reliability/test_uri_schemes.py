"""Documents that are not files: issue 9, item 8.

Editors open views and buffers under other URI schemes — VS Code's `git:` diff views (whose
path may carry an extra `.git` and whose query names the file), GitLens' `gitlens:`,
`untitled:` buffers (with or without a path), notebook cells, remote and virtual files,
output panels, the commit message box — and some clients send bare paths. For each, the privacy
rules judge the file the document shows (the path inside the URI, the query's `"path"`), never
the URI as a string and never a path resolved against the server's working folder; and the
text of a document that is not a `file:` never reaches another document's prompt. The server
runs in the workspace folder, as when an editor starts it in the repository root.

LSP only: the CLI takes files, never URIs. Against the real `deskmate serve` process and the
recording model server on 127.0.0.1. Controls in the same session: allowed views are served
(with their marker in their own prompt), and an allowed `file:` document does reach the
prompt's candidates, so every check here can fail."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from deskmate.server.lsp import uris
from tests.fakes.model_server import ModelServer
from tests.lsp.conftest import fast_profile, inline_params, plain, running_client, wait_for_index

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths in the URIs")

CODE = ("def compute_totals(rows):\n    note = '{marker}'\n"
        "    return sum(row.amount for row in rows)\nvalue = \n")
CURSOR = (3, 8)  # after "value = "


def git_uri(path: Path, *, suffix: str = ".git", scheme: str = "git:", ref: str = "HEAD"
            ) -> str:
    """As VS Code's git extension spells a file at a commit (the path gets `.git` so that no
    language feature treats it as the file itself); GitLens puts the commit first."""
    query = quote(json.dumps({"path": str(path), "ref": ref}), safe="")
    return f"{scheme}{quote(str(path))}{suffix}?{query}"


def views(ws: Path, *, rooted: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(label, URI) of views the rules exclude, then of views they allow. `rooted`: with the
    workspace's own rules (its ignore files, `[privacy] exclude`) too."""
    by_workspace = [
        ("git view of a file [privacy] exclude names",
         git_uri(ws / "internal" / "payroll.py")),
        ("git view of a gitignored file", git_uri(ws / "generated" / "models.py")),
    ]
    excluded = [*(by_workspace if rooted else []),
        ("git diff view of .env", git_uri(ws / ".env")),
        ("git view of .env, no .git suffix", git_uri(ws / ".env", suffix="")),
        ("git view of a secrets.json", git_uri(ws / "config" / "secrets.json", ref="~")),
        ("git view, percent-encoded name", f"git:{quote(str(ws))}/%2Eenv"),
        ("gitlens view of a key", git_uri(ws / "deploy" / "id_ed25519", suffix="",
                                          scheme="gitlens://abc1234", ref="abc1234")),
        ("untitled buffer named .env", f"untitled:{quote(str(ws))}/.env"),
        ("notebook cell in a folder of secrets",
         f"vscode-notebook-cell:{quote(str(ws))}/.secrets/analysis.ipynb#W0sZmlsZQ%3D%3D"),
        ("remote ssh config", "vscode-remote://ssh-remote%2Bprod/home/deploy/.ssh/config"),
        ("virtual file .env.production", "vscode-vfs://github/org/repo/.env.production"),
        ("zip member .env", "zipfile:///tmp/bundle.zip::config/.env"),
        ("unknown scheme, a kubeconfig", "deskmate-test://authority/ops/kubeconfig"),
        ("bare path to a .tfvars", "infra/prod.tfvars"),
    ]
    allowed = [
        ("untitled buffer", "untitled:Untitled-1"),
        ("git diff view of the cursor's file", git_uri(ws / "app.py")),
        ("notebook cell", f"vscode-notebook-cell:{quote(str(ws))}/analysis.ipynb#W0sZmlsZQ%3D%3D"),
        ("user settings", "vscode-userdata:/home/u/.config/Code/User/settings.json"),
        ("output panel", "output:extension-output-ms-python.python-%231-Python"),
        ("commit message box", "vscode-scm:git/scm0/input?rootUri%3Dfile%253A%252F%252Fws"),
        ("bare relative path", "notes.py"),
    ]
    return excluded, allowed


def marker(kind: str, i: int) -> str:
    return f"viewcheck_{kind}{i}_tangerine"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace, with the server's working folder in it."""
    ws = tmp_path / "ws"
    for name, text in {
        "app.py": "from other import compute_totals\n\ntotal = compute_totals(rows)\n",
        "other.py": CODE.format(marker="filecheck_other_tangerine"),
        ".env": "DATABASE_URL=postgres://app@db/app\n",
        ".gitignore": "generated/\n",
        "internal/payroll.py": "x = 1\n",
        "generated/models.py": "x = 1\n",
        "config/secrets.json": "{}\n",
    }.items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    monkeypatch.chdir(ws)  # the server process starts here
    return ws


def open_uri(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                             text=text)))


async def ask(client: LanguageClient, uri: str, at: tuple[int, int] = CURSOR
              ) -> tuple[types.InlineCompletionItem, ...]:
    result = await client.text_document_inline_completion_async(inline_params(uri, *at))
    assert isinstance(result, types.InlineCompletionList)
    return tuple(result.items)


async def report(client: LanguageClient, uri: str, at: tuple[int, int] = CURSOR
                 ) -> dict[str, Any]:
    result = plain(await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": at[0], "character": at[1]}}))
    assert isinstance(result, dict)
    return result


def sent(server: ModelServer) -> str:
    return json.dumps([p.body for p in server.posts()], ensure_ascii=False)


@pytest.mark.parametrize("rooted", [True, False], ids=["workspace", "no-workspace"])
async def test_a_view_is_judged_by_the_file_it_shows_and_never_joins_another_prompt(
    repo: Path, model_server: ModelServer, hermetic_env: dict[str, str], rooted: bool
) -> None:
    excluded, allowed = views(repo, rooted=rooted)
    options = fast_profile(model_server)
    options["privacy"] = {"exclude": ["internal/**"]}
    async with running_client(hermetic_env, root=repo if rooted else None, shutdown_s=15,
                              init_options=options) as client:
        if rooted:
            await wait_for_index(client)
        for kind, listed in (("x", excluded), ("a", allowed)):
            for i, (_, uri) in enumerate(listed):
                open_uri(client, uri, CODE.format(marker=marker(kind, i)))
        other, app = (repo / "other.py").as_uri(), (repo / "app.py").as_uri()
        open_uri(client, other, (repo / "other.py").read_text())
        open_uri(client, app, (repo / "app.py").read_text())

        leaked, refused = [], []
        for label, uri in excluded:
            model_server.clear()
            items = await ask(client, uri)
            shown = await report(client, uri)
            if items or model_server.posts() or shown["prompt"] or not shown["excluded"]:
                leaked.append(label)
        for i, (label, uri) in enumerate(allowed):
            model_server.clear()
            items = await ask(client, uri)
            if not items or marker("a", i) not in sent(model_server):
                refused.append(label)
        # A completion in a file: what its prompt draws on holds no view's text.
        model_server.clear()
        served = await ask(client, app, (2, 22))
        context = await report(client, app, (2, 22))

    assert leaked == []
    assert refused == []  # views the rules allow are served, their marker intact
    assert served
    drawn = sent(model_server) + json.dumps(context)
    views_seen = [label for kind, listed in (("x", excluded), ("a", allowed))
                  for i, (label, _) in enumerate(listed) if marker(kind, i) in drawn]
    assert views_seen == []
    paths = {section["path"] for section in context["sections"]}
    if rooted:  # the control: an open `file:` document does join the candidates
        assert "other.py" in paths
    assert paths <= {"app.py", "other.py", ".gitignore"}


# What each scheme is judged as (`server/lsp/uris.py`), the table the cases above rely on.
@pytest.mark.parametrize(("uri", "judged", "is_file"), [
    ("file:///ws/app.py", ["/ws/app.py"], True),
    ("file:///ws/%2Essh/config", ["/ws/.ssh/config"], True),
    ('git:/ws/.env.git?{"path":"/ws/.env","ref":"~"}', ["/ws/.env", "/ws/.env.git"], False),
    ("git:/ws/a.py?%7B%22path%22%3A%22%2Fws%2Fa.py%22%7D", ["/ws/a.py"], False),
    ('gitlens://abc/ws/id_rsa?{"path":"/ws/id_rsa"}', ["/ws/id_rsa"], False),
    ('git:/ws/a.py?{"path":"relative/a.py"}', ["/ws/a.py"], False),  # only absolute ones
    ("git:/ws/a.py?not-json", ["/ws/a.py"], False),
    ("untitled:Untitled-1", ["Untitled-1"], False),  # a bare name: never resolved
    ("untitled:/ws/.env", ["/ws/.env"], False),
    ("vscode-notebook-cell:/ws/nb.ipynb#W0sZmlsZQ%3D%3D", ["/ws/nb.ipynb"], False),
    ("vscode-remote://ssh-remote%2Bhost/home/u/.ssh/config", ["/home/u/.ssh/config"], False),
    ("output:extension-output-1", ["extension-output-1"], False),
    ("notes.py", ["notes.py"], False),
    ("/ws/bare.py", ["/ws/bare.py"], False),
])
def test_each_scheme_is_judged_by_the_path_inside_it(uri: str, judged: list[str],
                                                      is_file: bool) -> None:
    assert [str(p) for p in uris.judged_paths(uri)] == judged
    assert uris.is_file(uri) is is_file
