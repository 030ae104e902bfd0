"""The workspace walk: which files of the user's project may be indexed or put in a prompt.

One rule set serves the index (`Workspace.walk`) and every prompt (`Workspace.is_excluded`,
for a document the editor opened), so a file the index skips can never reach a model by
another route (issue 5). A path is excluded when any of these says so, checked in this order:

1. The built-in rules of `privacy.py` (secret files and folders, binary file types, tool and
   dependency folders, build output, virtualenvs): final, nothing can re-include them. A
   root that is, or lies inside, a folder of secrets (`privacy.root_reason`: a workspace
   opened on `~/.ssh`) excludes everything in it: the walk yields nothing.
2. The `exclude` globs from config (`[privacy] exclude`), gitignore syntax, relative to the
   root, then the user's global gitignore (`core.excludesFile`, see `gitconfig.py`; relative
   to the repository's top). Final too: an ignore file in the repository cannot re-include
   what the user's own settings exclude (stricter than git, whose `.gitignore` can).
3. `.deskmateignore` files, then `.gitignore` files and `.git/info/exclude`, with git's
   semantics: a file's rules apply to its own folder's subtree, the deepest file with a
   matching pattern decides, within a file the last matching pattern wins (`!` re-includes),
   and nothing inside an excluded folder can be re-included. Like ripgrep's `.ignore`,
   `.deskmateignore` outranks `.gitignore` at every level, so `!generated/` in it can index a
   folder git ignores. A folder holding `.git` starts a new repository: `.gitignore` rules
   from above it stop applying there. When the root itself is inside a git repository, the
   ignore files between the repository's top and the root apply too (as in git and ripgrep);
   the root itself is never excluded. How ignore files combine is `ignore.IgnoreRules`; each
   is read again as soon as it changes on disk (`ignore.IgnoreFiles`).

The walk also skips what it can only judge by reading: files over `max_file_bytes` and files
whose first 8 KiB contain a NUL byte; and what is not a regular file (sockets, FIFOs, devices
are never opened).

Symbolic links: a link whose target lies outside the root is skipped; so are broken and
looping links. Linked *directories* are never followed: a folder inside the root is walked
under its own link-free path anyway, so following a link to it would yield every file twice,
or sneak an excluded folder back in under another name. A linked *file* inside the root is
yielded under the link's path when both the link's path and the target's path are allowed.
Directories are also tracked by (device, inode), so a bind mount that loops cannot hang the walk.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deskmate.context import privacy
from deskmate.context.gitconfig import global_excludes_file
from deskmate.context.ignore import IgnoreFiles, IgnoreRules, IgnoreSpec

log = logging.getLogger("deskmate.context.workspace")

__all__ = ["IGNORE_FILE_NAMES", "FileEntry", "Workspace"]

IGNORE_FILE_NAMES = (".gitignore", ".deskmateignore")

_HEAD_BYTES = 8192
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file worth indexing. `path` is relative to the root with `/` separators; `absolute`
    is the file to read: `root/path`, or for a linked file its resolved target in the root."""

    path: str
    absolute: Path
    size: int
    mtime_ns: int


_NO_RULES = IgnoreRules()


@dataclass(frozen=True, slots=True)
class _Folder:
    """A folder on the way to a path: its rules, whether a link led to it, and why it is
    excluded (None if it is not)."""

    path: str
    rel: str
    rules: IgnoreRules
    linked: bool
    reason: str | None


def _inside(real: str, real_root: str) -> str | None:
    """`real` relative to `real_root` with '/' separators, '' for the root, None if outside."""
    if real == real_root:
        return ""
    head = real_root if real_root.endswith(os.sep) else real_root + os.sep
    if not real.startswith(head):
        return None
    return real[len(head):].replace(os.sep, "/")


def _holds(folder: str) -> Callable[[str], bool]:
    """`has(name)`: whether `folder` holds an entry called `name` (a file that may not exist)."""
    def has(name: str) -> bool:
        return os.path.lexists(os.path.join(folder, name))
    return has


def _split_relative(path: str) -> list[str] | None:
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    if not path or path.startswith("/") or os.path.isabs(path) or os.path.splitdrive(path)[0]:
        return None
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return parts


class Workspace:
    """The files of one workspace folder that Deskmate may index and show a model."""

    def __init__(self, root: Path, *, exclude: Sequence[str] = (),
                 max_file_bytes: int = 1_000_000,
                 environ: Mapping[str, str] | None = None) -> None:
        """`environ` (default: this process's) locates the user's global gitignore."""
        if isinstance(exclude, str):
            raise TypeError("exclude is a sequence of globs, not one string")
        self.root = Path(os.path.abspath(root))
        self.max_file_bytes = max_file_bytes
        self._root = str(self.root)
        self._exclude = IgnoreSpec(exclude, source="[privacy] exclude") if exclude else None
        self._files = IgnoreFiles(max_file_bytes)
        self._user_ignore = global_excludes_file(environ, self._root)
        self._ancestors: tuple[tuple[str, str, str], ...] | None = None
        # A root that is (or lies in) a folder of secrets: nothing in it is indexed or sent.
        self._root_reason = privacy.root_reason(self.root)

    # -- public API ---------------------------------------------------------------------------

    def walk(self) -> Iterator[FileEntry]:
        """Every file worth indexing, depth first, each folder's entries sorted by name."""
        real_root = os.path.realpath(self._root)
        try:
            st = os.stat(self._root)
        except OSError as exc:
            log.debug("cannot walk %s: %s", self._root, exc)
            return
        if not stat.S_ISDIR(st.st_mode):
            log.debug("cannot walk %s: not a directory", self._root)
            return
        visited = {(st.st_dev, st.st_ino)}
        stack: list[tuple[str, IgnoreRules, Iterator[os.DirEntry[str]]]] = []
        if self._root_reason is not None:
            log.info("not indexing %s: %s", self._root, self._root_reason)
            return
        top = self._list(self._root, "", None, self._ancestor_rules())
        if top is not None:
            stack.append(top)
        while stack:
            prefix, rules, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            name = entry.name
            rel = prefix + name
            found: FileEntry | None = None
            try:
                if entry.is_symlink():
                    found = self._linked_file(entry.path, name, rel, rules, real_root)
                elif entry.is_dir(follow_symlinks=False):
                    if self._dir_reason(name, rel, rules) is not None:
                        continue
                    dst = entry.stat(follow_symlinks=False)
                    key = (dst.st_dev, dst.st_ino)
                    if key in visited:
                        log.debug("skipping %s: already walked (a mount loop?)", rel)
                        continue
                    visited.add(key)
                    child = self._list(entry.path, rel + "/", name, rules)
                    if child is not None:
                        stack.append(child)
                elif (entry.is_file(follow_symlinks=False)
                      and self._file_reason(name, rel, rules) is None):
                    found = self._checked(entry.path, rel)
            except OSError as exc:  # vanished, unreadable, or a looping link
                log.debug("skipping %s: %s", rel, exc)
                continue
            if found is not None:
                yield found

    def is_excluded(self, path: str) -> bool:
        """Whether the file at `path` (relative to the root) is kept out of the index and every
        prompt. Same rules as `walk`, except those that need the file's content (size, NUL
        bytes), so it also answers for unsaved documents and files that do not exist yet."""
        return self.exclusion_reason(path) is not None

    def exclusion_reason(self, path: str) -> str | None:
        """Why `path` is excluded, in words for the log; None if it is not."""
        parts = _split_relative(path)
        if parts is None:
            return f"{path!r} is not a path inside the workspace"
        return self._path_reason(parts, canonical=False, memo={})

    def excluded_among(self, paths: Iterable[str]) -> list[str]:
        """Those of `paths` that `is_excluded` judges excluded now, each folder on the way
        judged once: how a whole index is checked again after an ignore file changed."""
        memo: dict[str, _Folder] = {}
        return [path for path in paths if (parts := _split_relative(path)) is None
                or self._path_reason(parts, canonical=False, memo=memo) is not None]

    def read_text(self, entry: FileEntry) -> str | None:
        """The file's text, or None if it is gone, unreadable, over the size cap, holds a NUL
        byte or is not UTF-8. A leading byte-order mark is dropped, as editors do."""
        try:
            fd = os.open(entry.absolute, _OPEN_FLAGS)
        except OSError as exc:
            log.debug("cannot read %s: %s", entry.path, exc)
            return None
        try:
            with open(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return None
                data = f.read(self.max_file_bytes + 1)
        except OSError as exc:
            log.debug("cannot read %s: %s", entry.path, exc)
            return None
        if len(data) > self.max_file_bytes or b"\0" in data:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return text[1:] if text.startswith("\ufeff") else text

    # -- rules --------------------------------------------------------------------------------

    def _rules_reason(self, rel: str, is_dir: bool, rules: IgnoreRules) -> str | None:
        if self._exclude is not None:
            h = self._exclude.hit(rel, is_dir)
            if h is not None and h[0]:
                return f"matches the exclude glob {h[1]!r}"
        return rules.reason(rel, is_dir)

    def _file_reason(self, name: str, rel: str, rules: IgnoreRules) -> str | None:
        return (privacy.file_reason(name, os.path.join(self._root, rel))
                or self._rules_reason(rel, False, rules))

    def _dir_reason(self, name: str, rel: str, rules: IgnoreRules) -> str | None:
        if (reason := privacy.dir_reason(name, rel, os.path.join(self._root, rel))) is not None:
            return reason
        reason = self._rules_reason(rel, True, rules)
        return None if reason is None else f"inside {rel}/, {reason}"

    # -- ignore files -------------------------------------------------------------------------

    def _enter(self, rules: IgnoreRules, folder: str, rel: str, prefix: str,
               has: Callable[[str], bool], shown: str | None = None) -> IgnoreRules:
        """The rules in force inside `folder` (root-relative `rel`), given its parent's.
        `shown` names the folder in exclusion reasons (default: `rel/`)."""
        deskmate, git = rules.deskmate, rules.git
        if shown is None:
            shown = rel + "/" if rel else ""
        if has(".git"):  # a repository starts here: outer .gitignore rules stop applying
            info = self._files.info_exclude(folder, rel, prefix, shown)
            git = (info,) if info is not None else ()
        if has(".gitignore") and (spec := self._files.spec(
                os.path.join(folder, ".gitignore"), rel, prefix, shown + ".gitignore")):
            git = (spec, *git)
        if has(".deskmateignore") and (spec := self._files.spec(
                os.path.join(folder, ".deskmateignore"), rel, prefix, shown + ".deskmateignore")):
            deskmate = (spec, *deskmate)
        if deskmate is rules.deskmate and git is rules.git:
            return rules
        return IgnoreRules(deskmate, git, rules.user)

    def _ancestor_rules(self) -> IgnoreRules:
        """The user's global gitignore (relative to the top of the repository holding the
        root, as info/exclude is), and the ignore files between that top and the root."""
        if os.path.lexists(os.path.join(self._root, ".git")):
            ancestors: tuple[tuple[str, str, str], ...] = ()
        else:
            if self._ancestors is None:
                self._ancestors = self._find_ancestors()
            ancestors = self._ancestors
        user = None if self._user_ignore is None else self._files.spec(
            self._user_ignore, "", ancestors[0][1] if ancestors else "", self._user_ignore)
        rules = _NO_RULES if user is None else IgnoreRules(user=user)
        for folder, prefix, shown in ancestors:
            rules = self._enter(rules, folder, "", prefix, _holds(folder), shown)
        return rules

    def _find_ancestors(self) -> tuple[tuple[str, str, str], ...]:
        """(folder, root relative to it + '/', it relative to the root + '/') for each folder
        from the top of the repository holding the root down to the root's parent; () when
        the root is in no repository. Looked up once: the ignore files in them are not."""
        root = self._root
        folders: list[str] = []
        current = root
        while True:
            parent = os.path.dirname(current)
            if parent == current:
                return ()
            folders.append(parent)
            if os.path.lexists(os.path.join(parent, ".git")):
                break
            current = parent
        return tuple((folder, os.path.relpath(root, folder).replace(os.sep, "/") + "/",
                      os.path.relpath(folder, root).replace(os.sep, "/") + "/")
                     for folder in reversed(folders))

    # -- walking ------------------------------------------------------------------------------

    def _list(self, folder: str, prefix: str, name: str | None, rules: IgnoreRules
              ) -> tuple[str, IgnoreRules, Iterator[os.DirEntry[str]]] | None:
        """A folder's entries sorted by name and the rules inside it; None if it is skipped."""
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.debug("skipping %s: %s", prefix or ".", exc)
            return None
        names = {e.name for e in entries}
        rel = prefix[:-1]
        if name is not None and privacy.content_reason(name, rel, names.__contains__) is not None:
            return None
        return prefix, self._enter(rules, folder, rel, "", names.__contains__), iter(entries)

    def _checked(self, path: str, rel: str) -> FileEntry | None:
        """The entry for a regular file if it passes the size and NUL checks."""
        fd = os.open(path, _OPEN_FLAGS)  # never follows a link, never blocks on a FIFO
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > self.max_file_bytes:
                return None
            if b"\0" in os.read(fd, _HEAD_BYTES):
                return None
        finally:
            os.close(fd)
        return FileEntry(rel, Path(path), st.st_size, st.st_mtime_ns)

    def _linked_file(self, link: str, name: str, rel: str, rules: IgnoreRules,
                     real_root: str) -> FileEntry | None:
        if self._file_reason(name, rel, rules) is not None:
            return None
        target = os.path.realpath(link)
        target_rel = _inside(target, real_root)
        if target_rel is None:
            log.debug("skipping %s: links outside the workspace", rel)
            return None
        st = os.stat(link)  # raises for broken and looping links
        if stat.S_ISDIR(st.st_mode):
            log.debug("skipping %s: a linked folder (walked under its own path)", rel)
            return None
        if not stat.S_ISREG(st.st_mode) or self.is_excluded(target_rel):
            return None
        return self._checked(target, rel)

    def _folder(self, names: list[str], memo: dict[str, _Folder]) -> _Folder:
        """The folder root/names..., judged on the way down (each folder once per memo)."""
        state = memo.get("")
        if state is None:
            rules = self._enter(self._ancestor_rules(), self._root, "", "", _holds(self._root))
            state = memo[""] = _Folder(self._root, "", rules, False, self._root_reason)
        for name in names:
            if state.reason is not None:
                return state
            rel = state.rel + "/" + name if state.rel else name
            known = memo.get(rel)
            if known is None:
                known = memo[rel] = self._child(state, name, rel)
            state = known
        return state

    def _child(self, parent: _Folder, name: str, rel: str) -> _Folder:
        folder = os.path.join(parent.path, name)
        reason = self._dir_reason(name, rel, parent.rules)
        if reason is not None:
            return _Folder(folder, rel, parent.rules, parent.linked, reason)
        linked = parent.linked or os.path.islink(folder)
        has = _holds(folder)
        reason = privacy.content_reason(name, rel, has)
        rules = parent.rules if reason is not None else self._enter(parent.rules, folder, rel,
                                                                     "", has)
        return _Folder(folder, rel, rules, linked, reason)

    def _path_reason(self, parts: list[str], canonical: bool, memo: dict[str, _Folder]
                     ) -> str | None:
        state = self._folder(parts[:-1], memo)
        if state.reason is not None:
            return state.reason
        folder, rel, rules, linked = state.path, state.rel, state.rules, state.linked
        name = parts[-1]
        rel = rel + "/" + name if rel else name
        reason = self._file_reason(name, rel, rules)
        if reason is not None:
            return reason
        path = os.path.join(folder, name)
        if os.path.islink(path):
            linked = True
            try:
                st = os.stat(path)
            except OSError:
                return "a broken or looping link"
            if not stat.S_ISREG(st.st_mode):
                return "a link to something other than a file"
        if not linked:
            return None
        if canonical:
            return "changed while being checked"
        # Through a link: the target must be inside the root and allowed under its own path.
        target_rel = _inside(os.path.realpath(path), os.path.realpath(self._root))
        if not target_rel:
            return "a link to outside the workspace"
        reason = self._path_reason(target_rel.split("/"), canonical=True, memo=memo)
        return None if reason is None else f"links to {target_rel}: {reason}"
