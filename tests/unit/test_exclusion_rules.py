"""The built-in exclusion rules on their own: the verdict for a document outside every
workspace (`privacy.outside_reason`), by the same rules the workspace applies by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deskmate.context.privacy import SECRET_DIR_NAMES, outside_reason, path_reason, root_reason
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


# -- issue 9: secret files the name rules missed, and folders of secrets above the root -------

@posix_only
@pytest.mark.parametrize("path", [
    # the examples
    "/etc/shadow", "/etc/gshadow", "~/.config/gcloud/application_default_credentials.json",
    "~/.vault-token", "~/.terraform.d/credentials.tfrc.json", "~/.cargo/credentials.toml",
    "~/.bash_history", "/p/.envrc", "/p/kubeconfig", "/p/kubeconfig-prod.yaml",
    "/p/prod.tfvars", "/p/prod.auto.tfvars.json", "~/.config/sops/age/keys.txt", "/p/keys.txt",
    "~/.m2/settings.xml", "~/.zsh_history",
    # cloud and infrastructure CLIs
    "~/.config/gcloud/credentials.db", "~/.config/gcloud/configurations/config_default",
    "/p/admin.kubeconfig", "~/.config/gh/hosts.yml", "~/.config/hub", "~/.s3cfg",
    "~/.passwd-s3fs", "~/.config/rclone/rclone.conf", "~/.azure/azureProfile.json",
    "~/.azure/msal_token_cache.json", "~/.oci/config", "~/.aliyun/config.json",
    "~/.pulumi/credentials.json", "~/.minikube/profiles/x/config.json", "~/.talos/config",
    "~/.config/doctl/config.yaml", "~/.config/hcloud/cli.toml", "/p/clouds.yaml",
    "/p/admin-openrc.sh", "~/.databrickscfg", "~/.config/configstore/firebase-tools.json",
    "/etc/rancher/k3s/k3s.yaml", "~/.terraformrc",
    # package managers and registries
    "~/.yarnrc", "~/.config/pip/pip.conf", "~/.config/pypoetry/auth.toml",
    "~/.config/composer/auth.json", "~/.config/containers/auth.json", "~/.gradle/gradle.properties",
    "~/.bundle/config", "~/.m2/settings-security.xml", "~/.nuget/NuGet/NuGet.Config",
    "~/.config/dart/pub-credentials.json", "~/.cache/huggingface/token",
    # git, databases, mail, saved logins
    "~/.gitcookies", "~/.authinfo", "~/.mylogin.cnf", "~/.pg_service.conf", "~/.msmtprc",
    "~/.config/github-copilot/hosts.json", "~/.mozilla/firefox/x.default/logins.json",
    # secret stores, keyrings, keys
    "~/.local/share/keyrings/login.keyring", "~/.local/share/keyrings/default",
    "~/Library/Keychains/login.keychain-db", "/p/vault/.vault_pass", "/p/backup.kdb",
    "/etc/krb5.keytab", "/p/signing.snk", "/p/secret.age", "~/.config/op/config",
    "/etc/ssh/ssh_host_ed25519_key", "/etc/ssl/private/server-bundle.txt",
    "/etc/wireguard/wg0.conf", "/etc/NetworkManager/system-connections/Home.nmconnection",
    "/p/client.ovpn",
    # histories
    "~/.local/share/fish/fish_history", "~/.psql_history", "~/.mysql_history",
    "~/.python_history", "~/.node_repl_history", "~/.sqlite_history", "~/.histfile",
    "~/.zhistory", "~/.lesshst", "~/.viminfo", "~/.dbshell",
    "~/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
])
def test_the_secret_files_of_every_family_are_excluded(path: str) -> None:
    assert outside_reason(Path(path.replace("~", "/home/u", 1))) is not None


@posix_only
@pytest.mark.parametrize("path", [
    "/p/k8s/kubeconfig.go", "/p/k8s/kubeconfig_test.go", "/p/keys/id_rsa_test.py",
    "/p/docs/kubeconfig.md", "/p/ansible/hosts.yml", "/p/app/settings.xml",
    "/p/app/gradle.properties", "/p/locales/en/auth.json", "/p/app/secrets.py",
    "/p/app/history.py", "/p/app/shadow.css", "/p/app/keys.py", "/p/.config/settings.json",
    "/p/infra/main.tf", "/p/gcloud/__init__.py", "/p/bundle/config.js",
])
def test_code_and_ordinary_files_with_similar_names_are_allowed(path: str) -> None:
    assert outside_reason(Path(path)) is None


@posix_only
def test_rules_known_by_their_folder_say_which(tmp_path: Path) -> None:
    assert outside_reason(Path("/home/u/.config/gh/hosts.yml")) == \
        "a secret file (gh/hosts.yml; built-in rule)"
    assert outside_reason(Path("/home/u/.config/gcloud/x.json")) == \
        "inside /home/u/.config/gcloud/, a folder of secrets (built-in rule)"


@posix_only
def test_the_walk_applies_the_rules_known_by_their_folder(tmp_path: Path) -> None:
    for name in (".config/gh/hosts.yml", ".m2/settings.xml", ".config/gcloud/adc.json",
                 ".local/share/keyrings/default", "ansible/hosts.yml", "app/settings.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    workspace = Workspace(tmp_path)
    assert sorted(e.path for e in workspace.walk()) == ["ansible/hosts.yml", "app/settings.xml"]
    assert workspace.exclusion_reason(".config/gh/hosts.yml") is not None
    # Opened on the folder itself, the folder above still counts.
    assert [e.path for e in Workspace(tmp_path / ".config" / "gh").walk()] == []


@posix_only
@pytest.mark.parametrize("folder", [".ssh", ".aws", ".kube/cache", ".config/gcloud", "secrets"])
def test_a_workspace_in_a_folder_of_secrets_has_nothing_to_offer(tmp_path: Path, folder: str
                                                                 ) -> None:
    root = tmp_path / folder
    root.mkdir(parents=True)
    (root / "config").write_text("x = 1\n")
    reason = root_reason(root)
    assert reason is not None
    assert reason.startswith("the workspace is inside ")
    workspace = Workspace(root)
    assert list(workspace.walk()) == []
    assert workspace.exclusion_reason("config") == reason
    # Reached through a link, by its real path.
    (tmp_path / "linked").symlink_to(root, target_is_directory=True)
    assert root_reason(tmp_path / "linked") is not None
    assert list(Workspace(tmp_path / "linked").walk()) == []


def test_an_ordinary_workspace_has_no_root_reason(tmp_path: Path) -> None:
    assert root_reason(tmp_path) is None


@posix_only
def test_a_folder_link_inside_the_workspace_is_judged_by_its_real_path(tmp_path: Path) -> None:
    home, ws = tmp_path / "home", tmp_path / "ws"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Host *\n")
    (home / "notes").mkdir()
    (home / "notes" / "config").write_text("x = 1\n")
    ws.mkdir()
    (ws / "link-to-home").symlink_to(home, target_is_directory=True)
    (ws / "keys").symlink_to(home / ".ssh", target_is_directory=True)
    assert path_reason(ws / "link-to-home" / ".ssh" / "config") is not None
    reason = path_reason(ws / "keys" / "config")
    assert reason is not None
    assert reason.startswith(f"links to {home / '.ssh' / 'config'}")
    assert path_reason(ws / "link-to-home" / "notes" / "config") is None
