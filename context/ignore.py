"""The gitignore-syntax matcher: one ignore file (or the config's exclude globs), compiled.

The matcher is our own (`IgnoreSpec`, about 200 lines) rather than the `pathspec` package:
each ignore file compiles to one regular expression per kind of entry (file or directory) whose
alternatives are the patterns in reverse order, so one `fullmatch` finds the last matching
pattern; and `pathspec` treats `foo/**` as matching the folder `foo` itself, which would prune
the folder and lose `!foo/keep` (git keeps it). Pattern syntax follows git's wildmatch: `*`,
`?`, `**` segments, bracket expressions with POSIX classes, backslash escapes, trailing-space
trimming, `!` negation and a trailing `/` for folders only.

`IgnoreRules` combines the ignore files in force in one folder, as git does: the deepest file
with a matching pattern decides, and `.deskmateignore` files outrank `.gitignore` ones at every
level (like ripgrep's `.ignore`). Which files are in force where (repositories, folders above
the root) is the walk's business, in `workspace.py`. The tests compare the walk with
`git ls-files --others --exclude-standard` on fixture trees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["IgnoreRules", "IgnoreSpec"]

# A POSIX bracket class inside a gitignore range, as regex class contents.
_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "\\x21-\\x7e", "lower": "a-z", "print": "\\x20-\\x7e",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"), "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}


def _translate_class(pat: str, i: int) -> tuple[str, int] | None:
    """The bracket expression starting at pat[i] == '[' as a regex, and the index after it;
    None when it is malformed (git's wildmatch then matches nothing)."""
    n = len(pat)
    j = i + 1
    negated = j < n and pat[j] in "!^"
    if negated:
        j += 1
    items: list[str] = []
    first = True
    while j < n and (pat[j] != "]" or first):
        first = False
        c = pat[j]
        if c == "[" and pat.startswith("[:", j):
            end = pat.find(":]", j + 2)
            if end < 0:
                return None
            cls = _POSIX_CLASSES.get(pat[j + 2:end])
            if cls is None:
                return None
            items.append(cls)
            j = end + 2
            continue
        if c == "\\":
            j += 1
            if j >= n:
                return None
            c = pat[j]
        lo = c
        j += 1
        if j + 1 < n and pat[j] == "-" and pat[j + 1] != "]":
            hi = pat[j + 1]
            j += 2
            if hi == "\\":
                if j >= n:
                    return None
                hi = pat[j]
                j += 1
            if hi < lo:
                return None
            items.append(f"{re.escape(lo)}-{re.escape(hi)}")
        else:
            items.append(re.escape(lo))
    if j >= n:
        return None  # no closing ']'
    body = "".join(items)
    # A bracket expression never matches '/'.
    return (f"[^/{body}]" if negated else f"(?!/)[{body}]"), j + 1


def _literal_head(pat: str) -> int:
    """The length of the pattern before its first wildcard or escape."""
    for i, c in enumerate(pat):
        if c in "*?[\\":
            return i
    return len(pat)


def _translate(pat: str, anchored: bool) -> str | None:
    """A gitignore pattern body (no '!', no trailing '/', no leading '/') as a regex matching
    the whole path relative to the ignore file's folder; None if it can never match."""
    out: list[str] = []
    i, n = 0, len(pat)
    # git compares an anchored pattern's literal head as a plain string and wildmatches the
    # rest as a pattern of its own, so a '**' right after the head counts as the start of a
    # segment: 'a**/b' matches 'ab' and 'a/x/b' (checked against git 2.39).
    head = _literal_head(pat) if anchored else -1
    while i < n:
        c = pat[i]
        if c == "*":
            j = i
            while j < n and pat[j] == "*":
                j += 1
            whole_segment = ((i == 0 or i == head or pat[i - 1] == "/")
                             and (j == n or pat[j] == "/"))
            if j - i >= 2 and whole_segment:
                if j == n:
                    out.append(".*")  # 'foo/**': everything inside
                else:
                    out.append("(?:.*/)?")  # '**/': zero or more folders
                    j += 1
            else:
                out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            cls = _translate_class(pat, i)
            if cls is None:
                return None
            out.append(cls[0])
            i = cls[1]
        elif c == "\\":
            if i + 1 >= n:
                return None  # a trailing backslash: git's pattern matches nothing
            out.append(re.escape(pat[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


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


def _parse(line: str) -> tuple[str, bool, bool] | None:
    """(regex, negated, directory_only) for one line of an ignore file, or None."""
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
    line = line.removeprefix("/")
    body = _translate(line, anchored)
    if body is None:
        return None
    if not anchored:
        body = "(?:.*/)?" + body  # a bare name matches at any depth
    try:
        re.compile(body)
    except re.error:
        return None
    return body, negated, dir_only


_Hit = tuple[bool, str]  # (ignored, the pattern as written)


class IgnoreSpec:
    """The compiled patterns of one ignore file (or of the config's exclude globs).

    Paths given to `hit` are relative to the workspace root; `base` is the root-relative folder
    the patterns are relative to ('' for the root), and `prefix` is prepended for ignore files
    above the root ('pkg/' when the root is `repo/pkg` and the file is `repo/.gitignore`)."""

    __slots__ = ("_cut", "_dir_hits", "_dir_re", "_file_hits", "_file_re", "_prefix", "source")

    def __init__(self, lines: Iterable[str], *, base: str = "", prefix: str = "",
                 source: str = "") -> None:
        self.source = source
        self._cut = len(base) + 1 if base else 0
        self._prefix = prefix
        rules: list[tuple[str, bool, bool, str]] = []
        for line in lines:
            parsed = _parse(line)
            if parsed is not None:
                rules.append((*parsed, line.strip()))
        self._file_re, self._file_hits = self._combine([r for r in rules if not r[2]])
        self._dir_re, self._dir_hits = self._combine(rules)

    @staticmethod
    def _combine(rules: list[tuple[str, bool, bool, str]]
                 ) -> tuple[re.Pattern[str] | None, tuple[_Hit, ...]]:
        # Alternatives in reverse order: the first one that matches is the file's last
        # matching pattern, which is the one git obeys. One capturing group per pattern.
        if not rules:
            return None, ()
        rules = rules[::-1]
        regex = re.compile("|".join(f"({r[0]})" for r in rules), re.DOTALL)
        hits: tuple[_Hit, ...] = ((False, ""), *((not r[1], r[3]) for r in rules))
        return regex, hits

    def __bool__(self) -> bool:
        return self._dir_re is not None

    def hit(self, rel: str, is_dir: bool) -> _Hit | None:
        """(ignored, pattern) for the last pattern matching `rel`, or None if none does."""
        regex = self._dir_re if is_dir else self._file_re
        if regex is None:
            return None
        local = rel[self._cut:]
        if self._prefix:
            local = self._prefix + local
        m = regex.fullmatch(local)
        if m is None:
            return None
        return (self._dir_hits if is_dir else self._file_hits)[m.lastindex or 0]

    def match(self, rel: str, is_dir: bool = False) -> bool | None:
        """True if ignored, False if re-included by a '!' pattern, None if no pattern matches."""
        h = self.hit(rel, is_dir)
        return None if h is None else h[0]


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The ignore files in force inside one folder, deepest first."""

    deskmate: tuple[IgnoreSpec, ...] = ()
    git: tuple[IgnoreSpec, ...] = ()  # .gitignore files, then the repository's info/exclude

    def reason(self, rel: str, is_dir: bool) -> str | None:
        """Why these files ignore `rel` (relative to the root), or None: the deepest file with
        a pattern matching it decides, `.deskmateignore` files before any `.gitignore`."""
        for spec in self.deskmate:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        for spec in self.git:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        return None
