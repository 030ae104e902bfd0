"""Secret files and folders, wherever they are: issue 9, items 1 and 6.

Credentials that cloud CLIs, package managers, secret stores and shells write into the home
folder never reach the model — not with no workspace at all (Neovim's single-file mode), not
outside the workspace, not through a folder link inside it (`ws/link-to-home/.ssh/config`),
not inside a workspace opened on the home folder, and not when the workspace *is* the folder
of secrets (`~/.kube` opened on its own): there the index holds nothing from it either. Both
faces: the real `deskmate serve` process and the real `deskmate` CLI, against the recording
model server on 127.0.0.1.

Every case has controls in the same setup — ordinary files at the same places (`~/notes/
config`, an Ansible `hosts.yml`, `kubeconfig.go`) that are served, with their marker in the
prompt — so a check fails if nothing is ever sent, or if the markers were redacted."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.fakes.model_server import ModelServer
from tests.lsp.conftest import fast_profile, inline_params, plain, running_client, wait_for_index

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and links")

DESKMATE = [sys.executable, "-m", "deskmate.server"]

# Home-relative paths of files that hold credentials: the examples, then the rest of
# each family (cloud CLIs, package managers, secret stores, shells, infrastructure).
SECRETS = [
    # the examples
    ".kube/config", ".docker/config.json", ".aws/config", ".ssh/config",
    ".config/gcloud/application_default_credentials.json", ".vault-token",
    ".terraform.d/credentials.tfrc.json", ".cargo/credentials.toml", ".bash_history",
    "projects/app/.envrc", "projects/k8s/kubeconfig", "projects/infra/prod.tfvars",
    "projects/infra/prod.auto.tfvars.json", ".config/sops/age/keys.txt", ".m2/settings.xml",
    # cloud and infrastructure CLIs
    ".config/gcloud/configurations/config_default", ".azure/azureProfile.json",
    ".config/gh/hosts.yml", ".config/rclone/rclone.conf", ".s3cfg", ".boto",
    ".databrickscfg", ".oci/config", ".pulumi/workspaces/stack.json",
    ".minikube/profiles/minikube/config.json", ".config/doctl/config.yaml",
    ".config/configstore/firebase-tools.json", "projects/k8s/kubeconfig-staging.yaml",
    "projects/k8s/admin.kubeconfig", "projects/infra/terraform.tfstate",
    "projects/openstack/clouds.yaml", "keys.txt",
    # package managers and registries
    ".npmrc", ".pypirc", ".config/pip/pip.conf", ".config/pypoetry/auth.toml",
    ".gradle/gradle.properties", ".bundle/config", ".config/containers/auth.json",
    ".m2/settings-security.xml", ".gem/credentials",
    # git, databases, mail
    ".git-credentials", ".gitcookies", ".netrc", ".pgpass", ".my.cnf", ".msmtprc",
    # secret stores and keyrings
    ".gnupg/gpg.conf", ".password-store/.gpg-id", ".local/share/keyrings/default",
    "vault/.vault_pass",
    # shell, REPL and database client histories
    ".zsh_history", ".local/share/fish/fish_history", ".psql_history", ".python_history",
    ".mysql_history", ".node_repl_history",
    # system files, copied where a test can write
    "backup/etc/shadow", "backup/etc/gshadow",
]
# Absolute paths that exist on real machines: opened over LSP with the client's text only.
SYSTEM = ["/etc/shadow", "/etc/gshadow", "/etc/ssh/ssh_host_ed25519_key",
          "/etc/wireguard/wg0.conf", "/etc/NetworkManager/system-connections/Home.nmconnection",
          "/root/.bash_history"]
# Ordinary files at the same places: served, their marker in the prompt.
CONTROLS = ["notes/config", "projects/ansible/hosts.yml", "projects/k8s/kubeconfig.go",
            "projects/app/settings.xml", "projects/infra/main.tf",
            ".config/Code/User/settings.json"]
# The CLI runs a process per file: the examples and one of each other family.
CLI_SECRETS = [*SECRETS[:15], ".config/gh/hosts.yml", ".npmrc", ".git-credentials",
               ".gnupg/gpg.conf", ".zsh_history", "backup/etc/shadow"]


@dataclass(frozen=True)
class Doc:
    label: str  # home-relative (or absolute) path, for the failure message
    path: Path  # where the editor or the CLI names it (maybe through a link)
    marker: str
    write: bool = True  # False: only the editor's text (a system file we must not create)

    @property
    def text(self) -> str:
        return f"host = 'bastion'\nnote = '{self.marker}'\nvalue = \n"


def marker(i: int, kind: str) -> str:
    return f"leakcheck_{kind}{i}_tangerine"


def layout(tmp_path: Path, home: Path, mode: str, names: list[str], *, system: bool = False
           ) -> tuple[Path | None, list[Doc], list[Doc]]:
    """The workspace root for `mode`, then the secret documents and the controls, each named
    as the mode reaches it; the files are written. `system`: the SYSTEM paths too (the
    editor's text only: the LSP face)."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    (workspace / "main.py").write_text("value = 1\n")
    base, root = home, {"no-workspace": None, "outside": workspace, "folder-link": workspace,
                        "inside": home}[mode]
    if mode == "folder-link":
        (workspace / "link-to-home").symlink_to(home, target_is_directory=True)
        base = workspace / "link-to-home"
    secrets = [Doc(n, base / n, marker(i, "s")) for i, n in enumerate(names)]
    controls = [Doc(n, base / n, marker(i, "c")) for i, n in enumerate(CONTROLS)]
    for doc in (*secrets, *controls):
        real = home / doc.label
        real.parent.mkdir(parents=True, exist_ok=True)
        real.write_text(doc.text, encoding="utf-8")
    if system and mode in ("no-workspace", "outside"):
        secrets += [Doc(p, Path(p), marker(i, "sys"), write=False) for i, p in enumerate(SYSTEM)]
    return root, secrets, controls


def body(posts: list[Any]) -> str:
    return json.dumps([p.body for p in posts], ensure_ascii=False)


# --------------------------------------------------------------------------- the LSP server


def open_document(client: LanguageClient, doc: Doc) -> str:
    uri = doc.path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="plaintext", version=1,
                                             text=doc.text)))
    return uri


async def report(client: LanguageClient, uri: str) -> dict[str, Any]:
    result = plain(await client.protocol.send_request_async("deskmate/context", {
        "textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}))
    assert isinstance(result, dict)
    return result


async def ask(client: LanguageClient, uri: str) -> tuple[types.InlineCompletionItem, ...]:
    result = await client.text_document_inline_completion_async(inline_params(uri, 2, 8))
    assert isinstance(result, types.InlineCompletionList)
    return tuple(result.items)


@pytest.mark.parametrize("mode", ["no-workspace", "outside", "folder-link", "inside"])
async def test_the_lsp_server_sends_nothing_from_a_secret_file(
    tmp_path: Path, model_server: ModelServer, hermetic_env: dict[str, str], mode: str
) -> None:
    home = Path(hermetic_env["HOME"])
    root, secrets, controls = layout(tmp_path, home, mode, SECRETS, system=True)
    async with running_client(hermetic_env, root=root, shutdown_s=15,
                              init_options=fast_profile(model_server)) as client:
        uris = {doc: open_document(client, doc) for doc in (*secrets, *controls)}
        if root is not None:
            await wait_for_index(client)
        leaked, refused = [], []
        for doc in secrets:
            model_server.clear()
            items = await ask(client, uris[doc])
            shown = await report(client, uris[doc])
            if model_server.posts() or items or shown["prompt"] or not shown["excluded"]:
                leaked.append(doc.label)
        for doc in controls:
            model_server.clear()
            items = await ask(client, uris[doc])
            posts = model_server.posts()
            if not (items and len(posts) == 1 and doc.marker in body(posts)):
                refused.append(doc.label)
        # What an allowed document's prompt may draw on (open documents, the index) holds
        # nothing from a secret one.
        model_server.clear()
        await ask(client, uris[controls[0]])
        context = await report(client, uris[controls[0]])

    assert leaked == []
    assert refused == []  # the controls: this face does send what is allowed, markers intact
    sent = body(model_server.posts()) + json.dumps(context)
    assert [doc.label for doc in secrets if doc.marker in sent] == []
    shown_paths = {section["path"] for section in context["sections"]}
    assert [doc.label for doc in secrets if doc.label in shown_paths] == []


# --------------------------------------------------------------------------- the CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DESKMATE, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          encoding="utf-8", timeout=60, check=False)


def config_file(tmp_path: Path, server: ModelServer) -> Path:
    path = tmp_path / "deskmate.toml"
    path.write_text(f"[profiles.fast]\nbackend = \"openai\"\nurl = \"{server.url}/v1\"\n"
                    f"model = \"test-model\"\nfim = \"starcoder\"\n"
                    f"[route]\ncompletion = [\"fast\"]\n")
    return path


@pytest.mark.parametrize("mode", ["outside", "folder-link", "inside"])
def test_the_cli_sends_nothing_from_a_secret_file(
    tmp_path: Path, model_server: ModelServer, hermetic_env: dict[str, str], mode: str
) -> None:
    home = Path(hermetic_env["HOME"])
    root, secrets, controls = layout(tmp_path, home, mode, CLI_SECRETS)
    config = config_file(tmp_path, model_server)
    # "inside": no --workspace, run from the home folder (not a repository): home is the root.
    common = ["--config", str(config), *(["--workspace", str(root)] if root != home else [])]
    cwd = home if mode == "inside" else tmp_path
    leaked = []
    for doc in secrets:
        model_server.clear()
        done = cli(["complete", f"{doc.path}:3:9", *common], hermetic_env, cwd)
        lines = done.stderr.splitlines()
        if done.returncode != 1 or model_server.posts() or doc.marker in done.stdout + \
                done.stderr or len(lines) != 1 or "nothing from it is sent" not in lines[0]:
            leaked.append((doc.label, done.returncode, done.stderr.strip()))
    shown = cli(["context", f"{secrets[0].path}:3:9", "--json", *common], hermetic_env, cwd)
    model_server.clear()
    control = controls[0]
    allowed = cli(["complete", f"{control.path}:3:9", *common], hermetic_env, cwd)

    assert leaked == []
    assert shown.returncode == 1
    answer = json.loads(shown.stdout)
    assert (answer["prompt"], answer["sections"]) == ("", [])
    assert answer["excluded"]
    assert allowed.returncode == 0, allowed.stderr  # the control: this face does send
    assert control.marker in body(model_server.posts())


# ------------------------------------------------ a workspace opened on a folder of secrets

# (folder under home, whether it holds secrets). Opened as the workspace, a folder of secrets
# is not indexed and everything in it is excluded — so is, by the context engine's second line
# of defence, a document outside it (judged by the workspace it is asked in). "notes" is the
# control: its files do reach an outside document's context, so the checks can fail.
FOLDERS = [(".ssh", True), (".aws", True), (".kube", True), (".config/gcloud", True),
           (".gnupg", True), (".password-store", True), (".terraform.d", True),
           ("notes", False)]
SHARED = ("Host bastion_gateway\n    HostName bastion_gateway.internal\n"
          "    User {marker}\n    ForwardAgent bastion_gateway_forward\n")
OUTSIDE = ("import os\n\n# connect to bastion_gateway.internal as the bastion_gateway user\n"
           "host = 'bastion_gateway.internal'\nuser = \n")


def secret_folder(home: Path, folder: str) -> tuple[Path, Path, str]:
    root = home / folder
    root.mkdir(parents=True)
    mark = marker(0, "folder")
    (root / "config").write_text(SHARED.format(marker=mark))
    (root / "hosts.py").write_text(f"BASTION_GATEWAY = 'bastion_gateway.internal'\n"
                                   f"USER = '{mark}'\n")
    return root, root / "config", mark


def outside_document(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere" / "app.py"
    path.parent.mkdir()
    path.write_text(OUTSIDE)
    return path


@pytest.mark.parametrize(("folder", "secret"), FOLDERS, ids=[f for f, _ in FOLDERS])
async def test_a_workspace_opened_on_a_folder_of_secrets_offers_nothing_over_lsp(
    tmp_path: Path, model_server: ModelServer, hermetic_env: dict[str, str], folder: str,
    secret: bool,
) -> None:
    root, inside, mark = secret_folder(Path(hermetic_env["HOME"]), folder)
    outside = outside_document(tmp_path)
    async with running_client(hermetic_env, root=root, shutdown_s=15,
                              init_options=fast_profile(model_server)) as client:
        await wait_for_index(client)
        doc = Doc(folder, inside, mark)
        items = await ask(client, open_document(client, doc))
        sent_for_inside = body(model_server.posts())
        model_server.clear()
        uri = outside.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1,
                                                 text=OUTSIDE)))
        served = await client.text_document_inline_completion_async(inline_params(uri, 4, 7))
        context = plain(await client.protocol.send_request_async("deskmate/context", {
            "textDocument": {"uri": uri}, "position": {"line": 4, "character": 7}}))

    assert isinstance(served, types.InlineCompletionList)
    drawn_on = {section["path"] for section in context["sections"]}
    if secret:
        assert not items
        assert sent_for_inside == "[]"
        assert mark not in body(model_server.posts()) + json.dumps(context)
        assert drawn_on == set()  # nothing from the folder's files, not even dropped
        assert "a folder of secrets" in context["excluded"]
    else:
        assert items
        assert served.items
        assert mark in sent_for_inside
        assert drawn_on & {"config", "hosts.py"}


@pytest.mark.parametrize(("folder", "secret"), FOLDERS, ids=[f for f, _ in FOLDERS])
def test_a_workspace_opened_on_a_folder_of_secrets_offers_nothing_to_the_cli(
    tmp_path: Path, model_server: ModelServer, hermetic_env: dict[str, str], folder: str,
    secret: bool,
) -> None:
    root, inside, mark = secret_folder(Path(hermetic_env["HOME"]), folder)
    outside = outside_document(tmp_path)
    common = ["--config", str(config_file(tmp_path, model_server)), "--workspace", str(root)]
    completed = cli(["complete", f"{inside}:3:9", *common], hermetic_env, root)
    sent_for_inside = body(model_server.posts())
    shown = cli(["context", f"{outside}:5:8", "--json", *common], hermetic_env, root)

    context = json.loads(shown.stdout)
    drawn_on = {section["path"] for section in context["sections"]}
    if secret:
        assert completed.returncode == 1
        assert "a folder of secrets" in completed.stderr
        assert sent_for_inside == "[]"
        assert mark not in shown.stdout
        assert drawn_on == set()
        assert "a folder of secrets" in context["excluded"]
    else:
        assert completed.returncode == 0, completed.stderr
        assert mark in sent_for_inside
        assert drawn_on & {"config", "hosts.py"}
