"""The gitignore matcher stays quick on every pattern and name (`wildmatch.py`), agrees with
the regex translation wherever that is quick, and with git itself; the user's global
gitignore is found the way git finds it (`gitconfig.py`)."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from deskmate.context.gitconfig import global_excludes_file
from deskmate.context.ignore import IgnoreSpec, ruled_folder
from deskmate.context.wildmatch import compile_glob
from deskmate.context.workspace import Workspace

# --------------------------------------------------------------------------- linear time

PATHOLOGICAL = [
    ("*a*a*a*a*a*a*a*a*a*a*a*ab", "a" * 250),
    ("*a*a*a*a*a*a*a*a*a*a*a*ab", "a" * 4000),
    ("**/a/**/a/**/a/**/a/**/a/**/a/**/b", "/".join(["a"] * 1000) + "/x.py"),
    ("*?*?*?*?*?*?*?*?*?*?*?x", "a" * 250),
    ("*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*c", "ab" * 120),
    ("[!/]*a?*a?*a?*a?*a?*a?*a?*a?*a?*a?*b", "a" * 250),
    ("a**/**/**/**/**/**/**/b", "a" + "/a" * 500),  # the literal head of an anchored pattern
    ("/**/*a*a*a*a*a*a*a*a*a*ab/**", "a" * 250 + "/x"),
    ("**/**/**/**/**/**/**/**/*a*a*a*a*ab", "/".join(["a" * 50] * 40)),
]


@pytest.mark.parametrize(("pattern", "path"), PATHOLOGICAL)
def test_no_pattern_makes_matching_slow(pattern: str, path: str) -> None:
    spec = IgnoreSpec([pattern, "*.keep"])
    started = time.perf_counter()
    for _ in range(10):
        assert spec.match(path) is None
        assert spec.match(path, is_dir=True) is None
    assert time.perf_counter() - started < 1.0  # a backtracking regex: minutes to forever


@pytest.mark.parametrize(("pattern", "path"), [
    ("*a*a*a*a*a*a*a*a*a*a*a*ab", "a" * 12 + "b"),
    ("*a*a*a*a*a*a*a*a*a*a*a*ab", "x/y/" + "a" * 30 + "b"),
    ("**/a/**/a/**/a/**/a/**/a/**/a/**/b", "a/a/a/a/a/a/b"),
    ("**/a/**/a/**/a/**/a/**/a/**/a/**/b", "q/a/r/a/a/s/a/a/t/a/b"),
    ("*?*?*?*?*?*?*?*?*?*?*?x", "abcdefghijkx"),
    ("*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*c", "ababababac"),
    ("a**/**/**/**/**/**/**/b", "ab"),
    ("a**/**/**/**/**/**/**/b", "axy/q/b"),
])
def test_the_same_patterns_still_match_what_they_should(pattern: str, path: str) -> None:
    assert IgnoreSpec([pattern]).match(path) is True


def is_safe(pattern: str) -> bool:
    """Whether an ignore-file line goes into the one regex of its file."""
    body = pattern.rstrip("/")
    glob = compile_glob(body.removeprefix("/"), "/" in body)
    assert glob is not None
    return glob.safe


def test_only_patterns_a_regex_could_be_slow_on_leave_the_regex() -> None:
    safe = ["*.pyc", "build/", "/dist", "docs/**/*.md", "**/cache/*.txt", "a/**", "file[0-9]",
            "*.py[cod]", "src/*/gen/*", "?x"]
    risky = ["*a*b", "**/a/**/b", "a/**/b/**/c", "*.min.*", "**/*x*y"]
    assert all(is_safe(p) for p in safe)
    assert not any(is_safe(p) for p in risky)


def test_the_last_matching_pattern_wins_across_regex_and_linear_patterns() -> None:
    spec = IgnoreSpec(["*.log", "!*k*e*e*p*", "keep-this.log", "!keep-this.log", "*x*x*"])
    assert spec.match("a.log") is True
    assert spec.match("kxeep.log") is False  # the linear '!' after the regex '*.log'
    assert spec.match("keep-this.log") is False  # a regex '!' after a linear one
    assert spec.match("xx-keep.log") is True  # the last pattern, linear
    assert spec.match("plain.txt") is None


# --------------------------------------------------------------------------- agreement

ATOMS = ["a", "b", "*", "**", "?", "[ab]", "[!a]", "\\*", "/", "/", "a*", "*a", "**/", "/**",
         "[[:alpha:]]", "\\/", "ab", ".", "\\a", "*a*"]


def random_pattern(rng: random.Random) -> str:
    return "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 6)))


def test_the_linear_matcher_agrees_with_the_regex_on_random_patterns_and_paths() -> None:
    rng = random.Random(20240611)
    mismatches = []
    for _ in range(3000):
        pattern = random_pattern(rng).rstrip("/")
        if not pattern:
            continue
        glob = compile_glob(pattern.removeprefix("/"), "/" in pattern)
        if glob is None:
            continue
        regex = re.compile(glob.regex, re.DOTALL)
        for _ in range(20):
            path = "".join(rng.choice("ab/.x") for _ in range(rng.randint(0, 9)))
            if glob.matches(path) != (regex.fullmatch(path) is not None):
                mismatches.append((pattern, path))
    assert mismatches == []


GIT = shutil.which("git")


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_patterns_with_many_stars_agree_with_git(tmp_path: Path) -> None:
    assert GIT is not None
    rng = random.Random(7)
    atoms = ["a", "b", "*", "*", "**", "?", "[ab]", "ab", "*a*", "a*b*"]
    folders = ["a", "ab", "a/b", "b/a/b", "ba/ab/ba"]
    files = ["ab.py", "ba.py", "aab", "bb", "abab.txt", "x"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    mismatches = []
    for round_ in range(40):
        root = tmp_path / f"r{round_}"
        for folder in ["", *folders]:
            for name in files:
                if rng.random() < 0.5:
                    (root / folder).mkdir(parents=True, exist_ok=True)
                    (root / folder / name).write_text("")
        root.mkdir(exist_ok=True)
        lines = []
        for _ in range(rng.randint(1, 4)):
            parts = ["".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
                     for _ in range(rng.choice([1, 1, 2]))]
            lines.append(("!" if rng.random() < 0.2 else "") + "/".join(parts))
        (root / ".gitignore").write_text("\n".join(lines) + "\n")
        subprocess.run([GIT, "init", "-q", str(root)], check=True, env=env)
        out = subprocess.run([GIT, "ls-files", "-z", "--others", "--exclude-standard"],
                             cwd=root, env=env, check=True, capture_output=True).stdout
        theirs = sorted(p for p in out.decode().split("\0") if p)
        ours = sorted(e.path for e in Workspace(root, environ={}).walk())
        if ours != theirs:
            mismatches.append((lines, sorted(set(ours) ^ set(theirs))))
    assert mismatches == []


# --------------------------------------------------------------------------- ignore files


@pytest.mark.parametrize(("path", "folder"), [
    (".gitignore", ""), ("a/b/.deskmateignore", "a/b"), (".git/info/exclude", ""),
    ("sub/.git/info/exclude", "sub"), ("a.py", None), ("x/exclude", None),
    ("gitignore", None), ("a/.gitignore.bak", None),
])
def test_which_files_are_ignore_files_and_the_folder_they_rule(path: str,
                                                               folder: str | None) -> None:
    assert ruled_folder(path) == folder


# --------------------------------------------------------------------------- the global gitignore


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def env_of(home: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", **extra}


def test_the_default_is_the_xdg_git_ignore(home: Path, tmp_path: Path) -> None:
    assert global_excludes_file(env_of(home)) == str(home / ".config" / "git" / "ignore")
    xdg = tmp_path / "xdg"
    assert global_excludes_file(env_of(home, XDG_CONFIG_HOME=str(xdg))) == str(
        xdg / "git" / "ignore")
    assert global_excludes_file({"GIT_CONFIG_NOSYSTEM": "1"}) is None  # no home at all


@pytest.mark.parametrize(("gitconfig", "expected"), [
    ("[core]\n\texcludesFile = ~/.gitignore_global\n", "{home}/.gitignore_global"),
    ("[core]\n\texcludesfile = /etc/ignores # a comment\n", "/etc/ignores"),
    ('[Core]\nExcludesFile = "~/with space/list"  ; comment\n', "{home}/with space/list"),
    ('[core] excludesFile = "a\\"b"\n', "{ws}/a\"b"),  # relative: to the workspace
    ("[core]\n\texcludesFile = ~/first\n[core]\n\texcludesFile = ~/second\n", "{home}/second"),
    ('[core "sub"]\n\texcludesFile = ~/not-core\n', "{home}/.config/git/ignore"),
    ("[core]\n\texcludesFile =\n", None),  # set to nothing: no global gitignore
    ("[core\nexcludesFile = ~/broken\n", "{home}/.config/git/ignore"),
    ("\xff\xfe not text\n[core]\nexcludesFile = ~/after-garbage\n", "{home}/after-garbage"),
    ("[core]\n\texcludesFile = ~/long\\\nname\n", "{home}/longname"),
])
def test_core_excludes_file_is_read_from_gitconfig(home: Path, gitconfig: str,
                                                   expected: str | None) -> None:
    write(home / ".gitconfig", gitconfig)
    found = global_excludes_file(env_of(home), "/ws")
    assert found == (None if expected is None else expected.format(home=home, ws="/ws"))


def test_gitconfig_beats_the_xdg_config_and_includes_are_followed(home: Path) -> None:
    write(home / ".config" / "git" / "config", "[core]\nexcludesFile = ~/from-xdg\n")
    assert global_excludes_file(env_of(home)) == f"{home}/from-xdg"
    write(home / ".gitconfig", "[include]\n\tpath = more/inc.cfg\n")
    write(home / "more" / "inc.cfg", "[core]\nexcludesFile = ~/from-include\n")
    assert global_excludes_file(env_of(home)) == f"{home}/from-include"
    write(home / "more" / "inc.cfg", "[include]\npath = inc.cfg\n")  # a loop: no hang
    assert global_excludes_file(env_of(home)) == f"{home}/from-xdg"


def test_git_config_global_replaces_both_user_files(home: Path, tmp_path: Path) -> None:
    write(home / ".gitconfig", "[core]\nexcludesFile = ~/from-home\n")
    other = write(tmp_path / "other.cfg", "[core]\nexcludesFile = /from-env\n")
    assert global_excludes_file(env_of(home, GIT_CONFIG_GLOBAL=str(other))) == "/from-env"


def test_the_system_config_counts_unless_git_is_told_not_to_read_it(home: Path,
                                                                    tmp_path: Path) -> None:
    system = write(tmp_path / "system.cfg", "[core]\nexcludesFile = /from-system\n")
    env = {"HOME": str(home), "GIT_CONFIG_SYSTEM": str(system)}
    assert global_excludes_file(env) == "/from-system"
    assert global_excludes_file({**env, "GIT_CONFIG_NOSYSTEM": "1"}) == str(
        home / ".config" / "git" / "ignore")


def test_an_unreadable_gitconfig_costs_only_itself(home: Path) -> None:
    write(home / ".gitconfig", "[core]\nexcludesFile = ~/x\n").chmod(0)
    try:
        found = global_excludes_file(env_of(home))
    finally:
        (home / ".gitconfig").chmod(0o600)
    assert found in (f"{home}/x", f"{home}/.config/git/ignore")  # root can read it anyway
