"""The gitignore-syntax matcher: one ignore file (or the config's exclude globs), compiled.

The matcher is our own (`IgnoreSpec`) rather than the `pathspec` package: each ignore file
compiles to one regular expression per kind of entry (file or directory) whose alternatives are
the patterns in reverse order, so one `fullmatch` finds the last matching pattern; and
`pathspec` treats `foo/**` as matching the folder `foo` itself, which would prune the folder
and lose `!foo/keep` (git keeps it). A pattern a regex could spend exponential time on (two
stars in one segment, two `**/`) is matched by `wildmatch.Glob.matches` instead, in its place
in the order: a repository chooses both its patterns and its file names, and must not be able
to freeze the server with them. Pattern syntax follows git's wildmatch (see `wildmatch.py`),
with trailing-space trimming, `!` negation and a trailing `/` for folders only.

`IgnoreRules` combines the ignore files in force in one folder, as git does: the deepest file
with a matching pattern decides, and `.deskmateignore` files outrank `.gitignore` ones at every
level (like ripgrep's `.ignore`). Which files are in force where (repositories, folders above
the root) is the walk's business, in `workspace.py`. The tests compare the walk with
`git ls-files --others --exclude-standard` on fixture trees.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from deskmate.context.wildmatch import Glob, compile_glob

log = logging.getLogger("deskmate.context.workspace")

__all__ = ["IgnoreFiles", "IgnoreRules", "IgnoreSpec", "ruled_folder"]


def ruled_folder(rel: str) -> str | None:
    """When `rel` (a path relative to the root) is an ignore file, the folder whose files its
    rules reach ('' for the root; for `.git/info/exclude`, its repository's top); else None.
    A change to it can change which files there are excluded."""
    folder, _, name = rel.rpartition("/")
    if name in (".gitignore", ".deskmateignore"):
        return folder
    if name == "exclude" and (folder == ".git/info" or folder.endswith("/.git/info")):
        return folder.removesuffix(".git/info").removesuffix("/")
    return None


def _trim_trailing_spaces(line: str) -> str:
    end = len(line)
    while end and line[end - 1] == " ":
        backslashes = 0
        k = end - 2
        while k >= 0 and line[k] == "\\":
            backslashes += 1
            k -= 1
        if backslashes % 2:
            break  # '\ ' keeps the space
        end -= 1
    return line[:end]


def _parse(line: str) -> tuple[Glob, bool, bool] | None:
    """(pattern, negated, directory_only) for one line of an ignore file, or None."""
    if not line or line.startswith("#"):
        return None
    line = _trim_trailing_spaces(line)
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    dir_only = line.endswith("/")
    if dir_only:
        line = line[:-1]  # only one: git's 'a//' never matches
    if not line:
        return None
    anchored = "/" in line
    glob = compile_glob(line.removeprefix("/"), anchored)
    return None if glob is None else (glob, negated, dir_only)


_Hit = tuple[bool, str]  # (ignored, the pattern as written)
_Rule = tuple[Glob, bool, bool, str]
_Check = Callable[[str], _Hit | None]


def _regex_check(rules: list[_Rule]) -> _Check:
    """Patterns that are quick as regexes, as one: its alternatives are the patterns in
    reverse order, so the first that matches is the last matching pattern. One capturing
    group per pattern."""
    regex = re.compile("|".join(f"({r[0].regex})" for r in reversed(rules)), re.DOTALL)
    hits: tuple[_Hit, ...] = ((False, ""), *((not r[1], r[3]) for r in reversed(rules)))

    def check(path: str) -> _Hit | None:
        m = regex.fullmatch(path)
        return None if m is None else hits[m.lastindex or 0]
    return check


def _glob_check(rule: _Rule) -> _Check:
    """A pattern a regex could take exponential time on, matched by `Glob.matches`."""
    matches, hit = rule[0].matches, (not rule[1], rule[3])
    return lambda path: hit if matches(path) else None


def _checks(rules: list[_Rule]) -> tuple[_Check, ...]:
    """The rules as checks to try in order (last pattern first): each run of consecutive
    safe patterns is one regex, each other pattern a check of its own."""
    checks: list[_Check] = []
    run: list[_Rule] = []
    for rule in reversed(rules):
        if rule[0].safe:
            run.insert(0, rule)
            continue
        if run:
            checks.append(_regex_check(run))
            run = []
        checks.append(_glob_check(rule))
    if run:
        checks.append(_regex_check(run))
    return tuple(checks)


class IgnoreSpec:
    """The compiled patterns of one ignore file (or of the config's exclude globs).

    Paths given to `hit` are relative to the workspace root; `base` is the root-relative folder
    the patterns are relative to ('' for the root), and `prefix` is prepended for ignore files
    above the root ('pkg/' when the root is `repo/pkg` and the file is `repo/.gitignore`)."""

    __slots__ = ("_cut", "_dir_checks", "_file_checks", "_prefix", "source")

    def __init__(self, lines: Iterable[str], *, base: str = "", prefix: str = "",
                 source: str = "") -> None:
        self.source = source
        self._cut = len(base) + 1 if base else 0
        self._prefix = prefix
        rules: list[_Rule] = []
        for line in lines:
            parsed = _parse(line)
            if parsed is not None:
                rules.append((*parsed, line.strip()))
        self._file_checks = _checks([r for r in rules if not r[2]])
        self._dir_checks = _checks(rules)

    def __bool__(self) -> bool:
        return bool(self._dir_checks)

    def hit(self, rel: str, is_dir: bool) -> _Hit | None:
        """(ignored, pattern) for the last pattern matching `rel`, or None if none does."""
        local = rel[self._cut:]
        if self._prefix:
            local = self._prefix + local
        for check in self._dir_checks if is_dir else self._file_checks:
            if (found := check(local)) is not None:
                return found
        return None

    def match(self, rel: str, is_dir: bool = False) -> bool | None:
        """True if ignored, False if re-included by a '!' pattern, None if no pattern matches."""
        h = self.hit(rel, is_dir)
        return None if h is None else h[0]


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The ignore files in force inside one folder, deepest first."""

    deskmate: tuple[IgnoreSpec, ...] = ()
    git: tuple[IgnoreSpec, ...] = ()  # .gitignore files, then the repository's info/exclude
    # The user's global gitignore (`core.excludesFile`): the user's own rules, so final like
    # `[privacy] exclude`: no repository file can re-include what it ignores.
    user: IgnoreSpec | None = None

    def reason(self, rel: str, is_dir: bool) -> str | None:
        """Why these files ignore `rel` (relative to the root), or None: the user's global
        gitignore first, then the deepest file with a pattern matching it decides,
        `.deskmateignore` files before any `.gitignore`."""
        if self.user is not None and (h := self.user.hit(rel, is_dir)) is not None and h[0]:
            return f"ignored by {self.user.source} ({h[1]!r})"
        for spec in self.deskmate:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        for spec in self.git:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        return None


class IgnoreFiles:
    """Ignore files read and compiled once, by absolute path, and read again as soon as one
    changes on disk (its mtime, size or inode): an ignore file added or edited mid-session
    applies to the next question, with no restart."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._specs: dict[str, tuple[tuple[int, int, int], IgnoreSpec | None]] = {}

    def spec(self, path: str, base: str, prefix: str, source: str) -> IgnoreSpec | None:
        """The compiled ignore file at `path`, from the cache while it is unchanged."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._specs.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_bytes)
        except OSError as exc:
            log.debug("cannot read %s: %s", path, exc)
            return None
        text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        spec: IgnoreSpec | None = IgnoreSpec(lines, base=base, prefix=prefix, source=source)
        if not spec:
            spec = None
        self._specs[path] = (key, spec)
        return spec

    def info_exclude(self, top: str, base: str, prefix: str, shown: str) -> IgnoreSpec | None:
        """The `info/exclude` of the repository whose working tree starts at `top`."""
        dotgit = os.path.join(top, ".git")
        gitdir = dotgit
        if os.path.isfile(dotgit):  # a worktree or submodule: "gitdir: <path>"
            try:
                with open(dotgit, encoding="utf-8", errors="surrogateescape") as f:
                    first = f.readline().strip()
            except OSError:
                return None
            if not first.startswith("gitdir:"):
                return None
            gitdir = os.path.join(top, first[len("gitdir:"):].strip())
            try:
                with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as f:
                    gitdir = os.path.join(gitdir, f.read().strip())
            except OSError:
                pass
        return self.spec(os.path.join(gitdir, "info", "exclude"), base, prefix,
                         shown + ".git/info/exclude")
