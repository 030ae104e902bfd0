"""The built-in exclusion rules on their own: the verdict for a document outside every
workspace (`privacy.outside_reason`), by the same rules the workspace applies by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deskmate.context.privacy import SECRET_DIR_NAMES, outside_reason
from deskmate.context.workspace import Workspace

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="absolute POSIX paths, symlinks")


@posix_only
@pytest.mark.parametrize("path", [
    "~/.ssh/config",
    "~/.ssh/known_hosts",
    "/home/u/.aws/credentials",
    "/home/u/.aws/config",
    "/home/u/.kube/config",
    "/home/u/.docker/config.json",
    "/srv/app/secrets/database.yml",
    "/tmp/x/.env",
    "/tmp/x/.env.production",
    "/tmp/x/key.pem",
    "/tmp/x/id_ed25519",
    "/tmp/x/.npmrc",
    "/tmp/x/terraform.tfstate",
    "/tmp/x/logo.PNG",
    "/tmp/x/.DS_Store",
])
def test_secret_and_binary_documents_outside_the_workspace_are_excluded(path: str) -> None:
    assert outside_reason(Path(path).expanduser()) is not None


@posix_only
@pytest.mark.parametrize("path", [
    "/tmp/x/main.py",
    "/home/u/project/credentials.py",  # code about credentials, not credentials
    "/home/u/notes/ssh.md",
    "/home/u/project/build/out.txt",  # build output is judged by looking inside: not by name
    "/home/u/lib/site-packages/requests/api.py",  # a dependency, but nothing secret
])
def test_ordinary_documents_outside_the_workspace_are_allowed(path: str) -> None:
    assert outside_reason(Path(path)) is None


@posix_only
def test_the_reason_says_which_rule_and_which_folder() -> None:
    assert outside_reason(Path("/home/u/.ssh/config")) == \
        "inside /home/u/.ssh/, a folder of secrets (built-in rule)"
    assert outside_reason(Path("/tmp/x/key.pem")) == "a secret file (built-in rule)"
    assert outside_reason(Path("/tmp/x/movie.mp4")) == "a binary file type (built-in rule)"


@posix_only
@pytest.mark.parametrize("name", sorted(SECRET_DIR_NAMES))
def test_every_folder_of_secrets_counts_at_any_depth_and_in_any_case(name: str) -> None:
    assert outside_reason(Path("/home/u") / name / "deep" / "notes.txt") is not None
    assert outside_reason(Path("/home/u") / name.upper() / "notes.txt") is not None


@pytest.mark.parametrize("name", [".env", "id_rsa", "server.key", "secrets.toml", "a.png",
                                  "Thumbs.db", "main.py", "credentials.py", "README.md"])
def test_a_file_name_gets_the_same_verdict_inside_and_outside(tmp_path: Path, name: str
                                                              ) -> None:
    assert outside_reason(tmp_path / name) == Workspace(tmp_path).exclusion_reason(name)


@posix_only
def test_a_link_is_judged_by_its_target_too(tmp_path: Path) -> None:
    secrets = tmp_path / ".ssh"
    secrets.mkdir()
    (secrets / "config").write_text("Host *\n", encoding="utf-8")
    (tmp_path / "notes.txt").symlink_to(secrets / "config")
    (tmp_path / "plain.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "plain.txt")
    reason = outside_reason(tmp_path / "notes.txt")
    assert reason is not None
    assert reason.startswith("links to ")
    assert "a folder of secrets" in reason
    assert outside_reason(tmp_path / "alias.txt") is None


def test_a_relative_path_is_judged_by_its_names_alone() -> None:
    assert outside_reason(Path(".aws") / "credentials") is not None
    assert outside_reason(Path("src") / "app.py") is None
