"""The workspace walk and its exclusion rules, on small trees built for each test."""

from __future__ import annotations

import logging
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from deskmate.context.ignore import IgnoreSpec
from deskmate.context.privacy import SECRET_DIR_NAMES
from deskmate.context.workspace import FileEntry, Workspace

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks/FIFOs need POSIX")


@pytest.fixture(autouse=True)
def no_global_gitignore(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of its own, without a global gitignore: the developer's must not change what
    these tests see. Returns the home; its `.config/git/ignore` is the global gitignore."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


def make(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create `files` (relative path → content) under `root`; a path ending in '/' is a
    folder."""
    for rel, content in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def walked(ws: Workspace) -> list[str]:
    return [e.path for e in ws.walk()]


def all_files(root: Path) -> Iterator[str]:
    """Every file and file-like entry under `root`, without following linked folders."""
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            yield Path(folder, name).relative_to(root).as_posix()


def assert_agrees(ws: Workspace, skipped_for_content: frozenset[str] = frozenset()) -> None:
    """is_excluded(path) is exactly 'walk() does not yield path', for every path in the tree
    except those the walk skips for their content (size, NUL)."""
    got = set(walked(ws))
    for rel in all_files(ws.root):
        if rel in skipped_for_content:
            assert rel not in got, rel
            assert not ws.is_excluded(rel), rel
        else:
            assert (rel in got) == (not ws.is_excluded(rel)), (rel, ws.exclusion_reason(rel))


# --- gitignore semantics -------------------------------------------------------------------


def test_nested_gitignore_with_negation_and_directory_only_rules(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": "*.log\n!keep.log\nlogs/\ntmp\n",
        "a.py": "", "a.log": "", "keep.log": "",
        "logs/x.py": "",  # a folder: excluded by 'logs/'
        "src/logs": "",  # a file named logs: 'logs/' is folder-only, so kept
        "src/tmp/y.py": "",  # 'tmp' matches folders too
        "src/.gitignore": "!*.log\nkeep.log\ngen/\n!gen/\n/local.py\n",
        "src/b.log": "",  # re-included by the deeper file
        "src/keep.log": "",  # excluded again by the deeper file
        "src/local.py": "",  # anchored: only src/local.py
        "src/deep/local.py": "",
        "src/gen/z.py": "",  # excluded then re-included: last pattern wins
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [
        ".gitignore", "a.py", "keep.log", "src/.gitignore", "src/b.log", "src/deep/local.py",
        "src/gen/z.py", "src/logs",
    ]
    assert_agrees(ws)


def test_nothing_inside_an_excluded_folder_can_be_re_included(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": "vendor/\n!vendor/keep.py\nlib/**\n!lib/keep.py\n",
        "vendor/keep.py": "", "vendor/other.py": "",
        # 'lib/**' excludes what is inside lib, not lib itself, so lib/keep.py can come back
        "lib/keep.py": "", "lib/other.py": "", "lib/sub/keep.py": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [".gitignore", "lib/keep.py"]
    assert_agrees(ws)


def test_anchors_double_stars_comments_and_escapes(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": (
            "# a comment.py\n"
            "\n"
            "/top.py\n"            # anchored to the root
            "docs/*.md\n"          # a slash in the middle anchors too; '*' stays in one folder
            "**/cache/*.txt\n"     # any depth
            "a/**/b.py\n"          # zero or more folders
            "\\#hash.py\n"         # escaped '#'
            "\\!bang.py\n"         # escaped '!'
            "space.py\\ \n"        # escaped trailing space
            "trail.py   \n"        # unescaped trailing spaces are dropped
            "file[0-9].py\n"       # a range
            "q?.py\n"              # one character
            "crlf.py\r\n"          # CRLF line ends
        ),
        "top.py": "", "x/top.py": "",
        "docs/a.md": "", "docs/sub/b.md": "",
        "cache/c.txt": "", "p/q/cache/d.txt": "", "p/q/cache/sub/e.txt": "",
        "a/b.py": "", "a/x/y/b.py": "", "z/a/b.py": "",
        "#hash.py": "", "!bang.py": "", "space.py ": "", "space.py": "", "trail.py": "",
        "file1.py": "", "filex.py": "", "qa.py": "", "qab.py": "", "crlf.py": "",
        "# a comment.py": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [
        "# a comment.py", ".gitignore", "docs/sub/b.md", "filex.py", "p/q/cache/sub/e.txt",
        "qab.py", "space.py", "x/top.py", "z/a/b.py",
    ]
    assert_agrees(ws)


def test_git_info_exclude_applies_below_every_gitignore(tmp_path: Path) -> None:
    make(tmp_path, {
        ".git/info/exclude": "*.local\nscratch/\n",
        ".gitignore": "!important.local\n",
        "a.local": "", "important.local": "", "scratch/s.py": "", "kept.py": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [".gitignore", "important.local", "kept.py"]
    assert ws.exclusion_reason("a.local") == "ignored by .git/info/exclude ('*.local')"
    assert_agrees(ws)


def test_gitignore_files_above_the_root_apply_inside_a_repository(tmp_path: Path) -> None:
    make(tmp_path, {
        "repo/.git/info/exclude": "*.tmp\n",
        "repo/.gitignore": "pkg/generated/\n*.out.py\n",
        "repo/pkg/.deskmateignore": "",
        "repo/pkg/a.py": "", "repo/pkg/b.out.py": "", "repo/pkg/c.tmp": "",
        "repo/pkg/generated/g.py": "",
        # no repository above this one: its parents' rules are not looked for
        "plain/.gitignore": "*.py\n", "plain/inner/a.py": "",
    })
    ws = Workspace(tmp_path / "repo" / "pkg")
    assert walked(ws) == [".deskmateignore", "a.py"]
    assert ws.exclusion_reason("b.out.py") == "ignored by ../.gitignore ('*.out.py')"
    assert_agrees(ws)
    assert walked(Workspace(tmp_path / "plain" / "inner")) == ["a.py"]


def test_a_nested_repository_does_not_inherit_outer_gitignore_rules(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": "*.gen.py\n",
        ".deskmateignore": "*.draft.py\n",
        "a.gen.py": "", "a.draft.py": "",
        "sub/.git/info/exclude": "*.mine.py\n",
        "sub/x.gen.py": "", "sub/x.draft.py": "", "sub/x.mine.py": "", "sub/ok.py": "",
        "other/y.mine.py": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [
        ".deskmateignore", ".gitignore", "other/y.mine.py", "sub/ok.py", "sub/x.gen.py",
    ]
    assert_agrees(ws)


def test_deskmateignore_is_scoped_and_outranks_gitignore(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": "generated/\n*.snap\n",
        ".deskmateignore": "!generated/\nfixtures/\n",
        "generated/api.py": "",  # git ignores it; .deskmateignore brings it back
        "fixtures/big.json": "",
        "a.snap": "",
        "pkg/.deskmateignore": "*.json\n!keep.json\n",
        "pkg/data.json": "", "pkg/keep.json": "", "pkg/sub/more.json": "",
        "other/data.json": "",  # outside pkg: pkg's rules do not apply
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [
        ".deskmateignore", ".gitignore", "generated/api.py", "other/data.json",
        "pkg/.deskmateignore", "pkg/keep.json",
    ]
    assert ws.exclusion_reason("pkg/sub/more.json") == "ignored by pkg/.deskmateignore ('*.json')"
    assert_agrees(ws)


def test_exclude_globs_from_config_are_final(tmp_path: Path) -> None:
    make(tmp_path, {
        ".deskmateignore": "!*.sql\n!private/\n",
        "schema.sql": "", "db/dump.sql": "", "private/notes.md": "", "src/private/x.py": "",
        "customer/a.py": "", "src/customer/b.py": "", "ok.py": "",
        "public/x.sql": "",
    })
    ws = Workspace(tmp_path, exclude=["*.sql", "!public/x.sql", "/private/", "**/customer/"])
    assert walked(ws) == [".deskmateignore", "ok.py", "public/x.sql", "src/private/x.py"]
    assert ws.exclusion_reason("db/dump.sql") == "matches the exclude glob '*.sql'"
    assert_agrees(ws)


def test_exclude_must_be_a_sequence_of_globs(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        Workspace(tmp_path, exclude="*.sql")


def test_a_changed_ignore_file_is_read_again(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "a.py\n", "a.py": "", "b.py": ""})
    ws = Workspace(tmp_path)
    assert walked(ws) == [".gitignore", "b.py"]
    (tmp_path / ".gitignore").write_text("b.py  \n# longer, so the size changes\n")
    assert walked(ws) == [".gitignore", "a.py"]
    assert ws.is_excluded("b.py")
    assert not ws.is_excluded("a.py")


def test_the_global_gitignore_applies_and_no_repository_file_re_includes(
    tmp_path: Path, no_global_gitignore: Path,
) -> None:
    make(no_global_gitignore, {".config/git/ignore": "*.private\nscratch/\n/top.py\n"})
    make(tmp_path, {
        "repo/.git/": "",
        "repo/.gitignore": "!*.private\n!scratch/\n",
        "repo/.deskmateignore": "!keep.private\n",
        "repo/pkg/.gitignore": "!pkg.private\n",
        "repo/a.private": "", "repo/keep.private": "", "repo/pkg/pkg.private": "",
        "repo/scratch/s.py": "", "repo/pkg/scratch/t.py": "", "repo/ok.py": "",
        "repo/top.py": "", "repo/pkg/top.py": "",
    })
    ws = Workspace(tmp_path / "repo")
    assert walked(ws) == [".deskmateignore", ".gitignore", "ok.py", "pkg/.gitignore",
                          "pkg/top.py"]
    ignore = no_global_gitignore / ".config" / "git" / "ignore"
    assert ws.exclusion_reason("keep.private") == f"ignored by {ignore} ('*.private')"
    assert_agrees(ws)
    # Rooted in a folder of the repository: anchored patterns stay relative to its top.
    sub = Workspace(tmp_path / "repo" / "pkg")
    assert walked(sub) == [".gitignore", "top.py"]


def test_the_global_gitignore_is_read_again_when_it_changes(
    tmp_path: Path, no_global_gitignore: Path,
) -> None:
    make(tmp_path, {"a.py": "", "b.py": ""})
    ws = Workspace(tmp_path)
    assert walked(ws) == ["a.py", "b.py"]
    make(no_global_gitignore, {".config/git/ignore": "a.py\n"})
    assert walked(ws) == ["b.py"]
    assert ws.is_excluded("a.py")


def test_an_explicit_environment_finds_no_global_gitignore(
    tmp_path: Path, no_global_gitignore: Path,
) -> None:
    make(no_global_gitignore, {".config/git/ignore": "a.py\n"})
    make(tmp_path, {"a.py": ""})
    assert walked(Workspace(tmp_path, environ={"GIT_CONFIG_NOSYSTEM": "1"})) == ["a.py"]


def test_a_new_ignore_file_applies_at_once(tmp_path: Path) -> None:
    make(tmp_path, {"src/a.py": "", "src/b.py": ""})
    ws = Workspace(tmp_path)
    assert not ws.is_excluded("src/a.py")
    make(tmp_path, {"src/.deskmateignore": "a.py\n"})
    assert ws.is_excluded("src/a.py")
    assert walked(ws) == ["src/.deskmateignore", "src/b.py"]


def test_ignore_spec_last_match_wins_across_many_patterns() -> None:
    spec = IgnoreSpec([f"p{i}.py" for i in range(300)] + ["!p7.py", "p7.py", "!p8.py", "d/"])
    assert spec.match("p299.py") is True
    assert spec.match("x/p7.py") is True
    assert spec.match("p8.py") is False
    assert spec.match("q.py") is None
    assert spec.match("d") is None
    assert spec.match("d", is_dir=True) is True


@pytest.mark.parametrize("line", ["", "   ", "# x", "!", "/", "[", "x\\", "[[:nope:]]", "[z-a]"])
def test_lines_that_match_nothing(line: str) -> None:
    spec = IgnoreSpec([line])
    for path in ["x", "a", "z", "[", "x\\", "#", "/"]:
        assert spec.match(path) is None
        assert spec.match(path, is_dir=True) is None


# --- built-in exclusions --------------------------------------------------------------------


def test_builtin_folders_are_never_walked(tmp_path: Path) -> None:
    make(tmp_path, {
        "main.py": "",
        ".git/config": "", ".hg/store": "", ".svn/entries": "",
        "node_modules/left-pad/index.js": "", "web/node_modules/x/index.js": "",
        "lib/site-packages/pkg/m.py": "", "usr/dist-packages/m.py": "",
        "pkg/__pycache__/m.py": "", "x.egg-info/PKG-INFO": "",
        ".tox/py311/m.py": "", ".mypy_cache/m.json": "", ".pytest_cache/README.md": "",
        ".ruff_cache/m": "", ".next/server.js": "",
        "build/lib/m.py": "", "dist/m.js": "", "target/debug/m.rs": "", "out/m.js": "",
        "web/dist/bundle.js": "", "crate/target/release/m.rs": "",
        # build-output names that are Python packages are source (pypa/build: src/build/)
        "src/build/__init__.py": "", "src/build/env.py": "",
        "target.py": "", "build.rs": "", "dist.ini": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [
        "build.rs", "dist.ini", "main.py", "src/build/__init__.py", "src/build/env.py",
        "target.py",
    ]
    assert_agrees(ws)


def test_virtualenvs_are_recognised_by_their_marker_file(tmp_path: Path) -> None:
    venv = {"pyvenv.cfg": "home = /usr/bin\n", "lib/python3.11/m.py": "", "bin/activate": ""}
    files: dict[str, str | bytes] = {}
    for name in [".venv", "venv", "env", "py311", "tools/.venv"]:
        files.update({f"{name}/{rel}": text for rel, text in venv.items()})
    files.update({
        ".venv2/conda-meta/history": "", ".venv2/lib/m.py": "",  # a conda environment
        "src/env/settings.py": "",  # a package called env: no marker, so source
        "main.py": "",
    })
    ws = Workspace(make(tmp_path, files))
    assert walked(ws) == ["main.py", "src/env/settings.py"]
    assert ws.exclusion_reason("py311/lib/python3.11/m.py") == (
        "inside py311/, a Python environment (pyvenv.cfg; built-in rule)")
    assert_agrees(ws)


BINARY_NAMES = [
    "logo.png", "photo.JPG", "icon.ico", "anim.gif", "pic.webp", "archive.zip", "src.tar.gz",
    "pkg.whl", "app.jar", "Main.class", "m.pyc", "ext.so", "lib.dll", "tool.exe", "lib.a",
    "m.o", "mod.wasm", "font.ttf", "font.woff2", "doc.pdf", "song.mp3", "clip.mp4",
    "model.gguf", "weights.bin", "weights.safetensors", "ckpt.pt", "data.sqlite", "app.db",
    "arr.npy", "table.parquet", ".DS_Store", ".x.swp",
]


def test_binary_files_are_skipped_by_extension(tmp_path: Path) -> None:
    # text content on purpose: the extension alone decides
    make(tmp_path, {name: "text" for name in BINARY_NAMES} | {
        "notes.txt": "", "icon.svg": "<svg/>", "go.mod": "module x\n", "a.snap": "",
        "Makefile": "", ".bashrc": "",
    })
    ws = Workspace(tmp_path)
    assert walked(ws) == [".bashrc", "Makefile", "a.snap", "go.mod", "icon.svg", "notes.txt"]
    assert all(ws.is_excluded(name) for name in BINARY_NAMES)
    assert_agrees(ws)


def test_nul_bytes_in_the_first_8_kib_and_oversize_files_are_skipped(tmp_path: Path) -> None:
    make(tmp_path, {
        "nul.py": b"x = 1\n\0\n",
        "late_nul.py": b"#" * 8192 + b"\0",  # past the first 8 KiB: the walk keeps it
        "exact.py": b"a" * 100,
        "over.py": b"a" * 101,
        "empty.py": b"",
    })
    ws = Workspace(tmp_path, max_file_bytes=100)
    entries = list(ws.walk())
    assert [e.path for e in entries] == ["empty.py", "exact.py"]
    assert entries[1] == FileEntry("exact.py", tmp_path / "exact.py", 100,
                                   (tmp_path / "exact.py").stat().st_mtime_ns)
    big = Workspace(tmp_path, max_file_bytes=10_000)
    assert walked(big) == ["empty.py", "exact.py", "late_nul.py", "over.py"]
    # read_text looks at the whole file
    assert big.read_text(next(e for e in big.walk() if e.path == "late_nul.py")) is None
    assert_agrees(ws, frozenset({"nul.py", "over.py", "late_nul.py"}))


SECRET_PATHS = [
    ".env", ".env.local", ".env.production", ".env.example", "prod.env", "config/.env",
    "server.pem", "tls.key", "cert.p12", "cert.pfx", "AuthKey_ABC.p8", "putty.ppk",
    "release.keystore", "store.jks", "vault.kdbx",
    "id_rsa", "id_rsa.pub", "id_dsa", "id_ecdsa", "id_ed25519", "keys/id_ed25519_work",
    ".npmrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".git-credentials", ".pgpass",
    ".htpasswd", "credentials", "credentials.json", "client_secret_123.apps.json",
    "service-account-prod.json", "secrets.json", "secrets.yaml", "secrets.toml",
    ".streamlit/secrets.toml", "infra/terraform.tfstate", "infra/prod.tfvars",
    ".aws/credentials", ".aws/config", ".ssh/config", ".ssh/known_hosts", ".gnupg/pubring.kbx",
    ".envs/.production/.django", ".docker/config.json", ".kube/config", "SERVER.PEM",
]


def test_secret_files_are_never_yielded_whatever_the_ignore_files_say(tmp_path: Path) -> None:
    make(tmp_path, {path: "SECRET=1\n" for path in SECRET_PATHS} | {
        ".gitignore": "!*\n!.*\n",
        ".deskmateignore": "!*\n!.*\n!.env\n!.ssh/\n",
        "secrets.py": "", "credentials.py": "", "keys/readme.md": "", "env.py": "",
    })
    ws = Workspace(tmp_path, exclude=["!.env"])
    assert walked(ws) == [
        ".deskmateignore", ".gitignore", "credentials.py", "env.py", "keys/readme.md",
        "secrets.py",
    ]
    for path in SECRET_PATHS:
        assert ws.is_excluded(path), path
    assert_agrees(ws)


def test_every_secret_folder_name_is_excluded(tmp_path: Path) -> None:
    for name in SECRET_DIR_NAMES:
        assert Workspace(tmp_path).is_excluded(f"{name}/anything.txt"), name


# --- symlinks and special files -------------------------------------------------------------


@posix_only
def test_links_leaving_the_root_broken_or_looping_are_skipped(tmp_path: Path) -> None:
    outside = make(tmp_path / "outside", {"secret.py": "x = 1\n", "dir/a.py": ""})
    root = make(tmp_path / "root", {"a.py": "", "sub/b.py": "", "ignored/c.py": "",
                                    ".gitignore": "ignored/\n"})
    (root / "out_file.py").symlink_to(outside / "secret.py")
    (root / "out_dir").symlink_to(outside / "dir", target_is_directory=True)
    (root / "broken.py").symlink_to(root / "missing.py")
    (root / "self.py").symlink_to(root / "self.py")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "sub" / "again").symlink_to(root / "sub", target_is_directory=True)
    (root / "in_file.py").symlink_to(root / "sub" / "b.py")  # inside: kept under its name
    (root / "sneaky.py").symlink_to(root / "ignored" / "c.py")  # can't unignore by a link
    (root / "in_dir").symlink_to(root / "sub", target_is_directory=True)  # walked as sub/
    ws = Workspace(root)
    entries = list(ws.walk())
    assert [e.path for e in entries] == [".gitignore", "a.py", "in_file.py", "sub/b.py"]
    assert entries[2].absolute == (root / "sub" / "b.py").resolve()
    for link in ["out_file.py", "out_dir/a.py", "broken.py", "self.py", "sneaky.py"]:
        assert ws.is_excluded(link), link
    assert not ws.is_excluded("in_dir/b.py")  # same file as sub/b.py, which is allowed
    assert_agrees(ws)


@posix_only
def test_a_root_given_through_a_link_walks_the_same_files(tmp_path: Path) -> None:
    make(tmp_path / "real", {"a.py": "", "b/c.py": ""})
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    ws = Workspace(tmp_path / "alias")
    assert [(e.path, e.absolute) for e in ws.walk()] == [
        ("a.py", tmp_path / "alias" / "a.py"), ("b/c.py", tmp_path / "alias" / "b" / "c.py")]


@posix_only
def test_fifos_are_never_opened(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": ""})
    os.mkfifo(tmp_path / "pipe.py")
    ws = Workspace(tmp_path)
    assert walked(ws) == ["a.py"]  # would hang forever if the FIFO were opened for reading


def test_a_file_deleted_between_listing_and_reading_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    make(tmp_path, {"pkg/a.py": "", "pkg/gone.py": "", "z.py": ""})
    real_scandir = os.scandir

    class Listing:
        def __init__(self, path: str) -> None:
            with real_scandir(path) as it:
                self.entries = list(it)

        def __enter__(self) -> Listing:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def __iter__(self) -> Iterator[os.DirEntry[str]]:
            return iter(self.entries)

    def scandir(path: str) -> Listing:
        listing = Listing(path)
        if Path(path) == tmp_path / "pkg":
            (tmp_path / "pkg" / "gone.py").unlink()  # listed, then gone
        return listing

    monkeypatch.setattr(os, "scandir", scandir)
    with caplog.at_level(logging.DEBUG, logger="deskmate.context.workspace"):
        assert walked(Workspace(tmp_path)) == ["pkg/a.py", "z.py"]
    assert [r.name for r in caplog.records] == ["deskmate.context.workspace"]
    assert "pkg/gone.py" in caplog.records[0].getMessage()


def test_an_unreadable_folder_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, {"a.py": "", "locked/b.py": "", "z/c.py": ""})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if Path(path) == tmp_path / "locked":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert walked(Workspace(tmp_path)) == ["a.py", "z/c.py"]


def test_a_missing_root_walks_nothing(tmp_path: Path) -> None:
    assert walked(Workspace(tmp_path / "nope")) == []
    make(tmp_path, {"file": ""})
    assert walked(Workspace(tmp_path / "file")) == []


# --- order, is_excluded, read_text ----------------------------------------------------------


def test_the_order_is_by_name_folder_by_folder_whatever_the_creation_order(
        tmp_path: Path) -> None:
    names = ["b/z.py", "a.py", "b/a.py", "B.py", "a/c.py", "ab.py", "a/b/d.py", "_x.py"]
    for i, order in enumerate((names, names[::-1], sorted(names))):
        root = tmp_path / str(i)
        make(root, dict.fromkeys(order, ""))
        assert walked(Workspace(root)) == [
            "B.py", "_x.py", "a/b/d.py", "a/c.py", "a.py", "ab.py", "b/a.py", "b/z.py"]


@pytest.mark.parametrize("path", ["", ".", "/etc/passwd", "../outside.py", "a/../../b.py",
                                  "a/../b.py"])
def test_paths_outside_the_workspace_are_excluded(tmp_path: Path, path: str) -> None:
    assert Workspace(tmp_path).is_excluded(path)


def test_is_excluded_judges_files_that_do_not_exist_yet_by_their_path(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "gen/\n", "pkg/.deskmateignore": "*.tmp.py\n"})
    ws = Workspace(tmp_path, exclude=["private/"])
    excluded = ["gen/new.py", "pkg/a.tmp.py", "private/a.py", "node_modules/x.js", ".env",
                "build/x.py", "a/__pycache__/m.py", "x.png"]
    allowed = ["new.py", "pkg/b.py", "src/private.py", "./pkg/c.py", "a//b.py"]
    assert [p for p in excluded if not ws.is_excluded(p)] == []
    assert [p for p in allowed if ws.is_excluded(p)] == []


def test_read_text(tmp_path: Path) -> None:
    make(tmp_path, {
        "utf8.py": "s = 'é中😀'\n", "bom.py": b"\xef\xbb\xbfx = 1\n", "latin1.py": b"s = '\xe9'\n",
        "nul.py": b"a" * 9000 + b"\0", "crlf.py": b"a\r\nb\r\n",
    })
    ws = Workspace(tmp_path, max_file_bytes=20_000)
    entries = {e.path: e for e in ws.walk()}
    assert sorted(entries) == ["bom.py", "crlf.py", "latin1.py", "nul.py", "utf8.py"]
    assert ws.read_text(entries["utf8.py"]) == "s = 'é中😀'\n"
    assert ws.read_text(entries["bom.py"]) == "x = 1\n"
    assert ws.read_text(entries["crlf.py"]) == "a\r\nb\r\n"
    assert ws.read_text(entries["latin1.py"]) is None
    assert ws.read_text(entries["nul.py"]) is None
    (tmp_path / "utf8.py").write_bytes(b"x" * 20_001)  # grew past the cap since the walk
    assert ws.read_text(entries["utf8.py"]) is None
    (tmp_path / "crlf.py").unlink()
    assert ws.read_text(entries["crlf.py"]) is None
    assert ws.read_text(FileEntry("d", tmp_path, 0, 0)) is None  # a folder


@posix_only
def test_read_text_refuses_a_file_swapped_for_a_link(tmp_path: Path) -> None:
    make(tmp_path, {"outside.txt": "secret", "root/a.py": "x = 1\n"})
    ws = Workspace(tmp_path / "root")
    (entry,) = ws.walk()
    (tmp_path / "root" / "a.py").unlink()
    (tmp_path / "root" / "a.py").symlink_to(tmp_path / "outside.txt")
    assert ws.read_text(entry) is None


def test_everything_at_once_is_excluded_exactly_when_not_walked(tmp_path: Path) -> None:
    make(tmp_path, {
        ".gitignore": "*.log\n!keep.log\nout/\n/tmp/\n",
        ".git/info/exclude": "*.bak\n",
        "src/.gitignore": "!*.bak\nfixtures/**\n!fixtures/keep.json\n",
        "src/.deskmateignore": "huge/\n",
        "src/a.py": "", "src/a.bak": "", "src/x.log": "", "src/keep.log": "",
        "src/fixtures/keep.json": "", "src/fixtures/drop.json": "", "src/huge/h.py": "",
        "tmp/t.py": "", "src/tmp/t.py": "", "b.bak": "",
        "node_modules/m.js": "", ".venv/pyvenv.cfg": "", "web/dist/x.js": "",
        ".env": "", "src/id_rsa": "", "img.png": "", "bin.dat": b"\0\1\2",
    })
    ws = Workspace(tmp_path, exclude=["src/a.bak"])
    assert walked(ws) == [
        ".gitignore", "src/.deskmateignore", "src/.gitignore", "src/a.py",
        "src/fixtures/keep.json", "src/keep.log", "src/tmp/t.py",
    ]
    assert_agrees(ws, frozenset({"bin.dat"}))
    every = sorted(all_files(tmp_path))
    assert ws.excluded_among(every) == [p for p in every if ws.is_excluded(p)]
    assert ws.excluded_among(["../outside.py", "/abs.py", "src/a.py"]) == [
        "../outside.py", "/abs.py"]


# --- the gitignore matcher against git itself -----------------------------------------------

GIT = shutil.which("git")


def git_listing(root: Path) -> list[str]:
    """Files git reports as untracked and not ignored, like our walk should."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
    assert GIT is not None
    subprocess.run([GIT, "init", "-q", str(root)], check=True, env=env)
    out = subprocess.run([GIT, "-c", "core.quotePath=false", "ls-files", "-z", "--others",
                          "--exclude-standard"], cwd=root, env=env, check=True,
                         capture_output=True).stdout
    return sorted(p for p in out.decode().split("\0") if p)


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_walk_agrees_with_git_on_random_ignore_files(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    folders = ["a", "b", "ab", "a/b", "a/c", "b/a", "c/a/b", "c/d"]
    files = ["x.py", "y.txt", "a.py", "b", "c.md", "xy.py"]
    atoms = ["a", "b", "c", "*", "**", "?", "a*", "*.py", "[ab]", "[!a]", "x.py", "*y*",
             "b.*", "\\*", "[a-c]", "a**", "**a", "[[:alpha:]]*", "?/", "[!a]/b"]

    def pattern() -> str:
        parts = [rng.choice(atoms) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
        text = "/".join(parts)
        if rng.random() < 0.2:
            text = "/" + text
        if rng.random() < 0.25:
            text += "/"
        if rng.random() < 0.3:
            text = "!" + text
        return text

    mismatches = []
    for round_ in range(100):
        root = tmp_path / f"r{round_}"
        tree: dict[str, str | bytes] = {
            f"{d}/{f}": "" for d in ["", *folders] for f in files if rng.random() < 0.5}
        tree = {p.lstrip("/"): c for p, c in tree.items()}
        for folder in ["", "a/", "c/", "a/b/"]:
            if rng.random() < 0.6:
                tree[folder + ".gitignore"] = "\n".join(
                    pattern() for _ in range(rng.randint(1, 5))) + "\n"
        # 'b' is a file name and a folder name: a file cannot be where a folder is
        tree = {p: c for p, c in tree.items() if not any(q.startswith(p + "/") for q in tree)}
        make(root, tree)
        theirs = git_listing(root)
        ours = sorted(walked(Workspace(root)))
        if ours != theirs:
            ignores = {p: c for p, c in tree.items() if p.endswith(".gitignore")}
            mismatches.append((ignores, sorted(set(ours) ^ set(theirs))))
        assert_agrees(Workspace(root))
    assert mismatches == []
