"""The workspace walk: which files of the user's project may be indexed or put in a prompt.

One rule set serves the index (`Workspace.walk`) and every prompt (`Workspace.is_excluded`,
for a document the editor opened), so a file the index skips can never reach a model by
another route (issue 5). A path is excluded when any of these says so, checked in this order:

1. Built-in, final rules nothing can re-include: secret files (`SECRET_FILE_PATTERNS`,
   `SECRET_DIR_NAMES`), binary file types (`BINARY_EXTENSIONS`, `EXCLUDED_FILE_NAMES`),
   tool and dependency folders (`EXCLUDED_DIR_NAMES`, `*.egg-info`), build output
   (`BUILD_OUTPUT_DIR_NAMES`, unless the folder is a Python package: `src/build/__init__.py`
   is source), and virtualenvs (any folder holding one of `VENV_MARKERS`).
2. The `exclude` globs from config (`[privacy] exclude`), gitignore syntax, relative to the
   root. Final too: an ignore file cannot re-include what the user's config excludes.
3. `.deskmateignore` files, then `.gitignore` files and `.git/info/exclude`, with git's
   semantics: a file's rules apply to its own folder's subtree, the deepest file with a
   matching pattern decides, within a file the last matching pattern wins (`!` re-includes),
   and nothing inside an excluded folder can be re-included. Like ripgrep's `.ignore`,
   `.deskmateignore` outranks `.gitignore` at every level, so `!generated/` in it can index a
   folder git ignores. A folder holding `.git` starts a new repository: `.gitignore` rules
   from above it stop applying there. When the root itself is inside a git repository, the
   ignore files between the repository's top and the root apply too (as in git and ripgrep);
   the root itself is never excluded.

The walk also skips what it can only judge by reading: files over `max_file_bytes` and files
whose first 8 KiB contain a NUL byte; and what is not a regular file (sockets, FIFOs, devices
are never opened).

Symbolic links: a link whose target lies outside the root is skipped; so are broken and
looping links. Linked *directories* are never followed: a folder inside the root is walked
under its own link-free path anyway, so following a link to it would yield every file twice,
or sneak an excluded folder back in under another name. A linked *file* inside the root is
yielded under the link's path when both the link's path and the target's path are allowed.
Directories are also tracked by (device, inode), so a bind mount that loops cannot hang the walk.

The gitignore matcher is our own (`IgnoreSpec`, about 200 lines) rather than the `pathspec`
package: each ignore file compiles to one regular expression per kind of entry (file or
directory) whose alternatives are the patterns in reverse order, so one `fullmatch` finds the
last matching pattern; and `pathspec` treats `foo/**` as matching the folder `foo` itself,
which would prune the folder and lose `!foo/keep` (git keeps it). The tests compare the walk
with `git ls-files --others --exclude-standard` on fixture trees.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("deskmate.context.workspace")

__all__ = [
    "BINARY_EXTENSIONS",
    "BUILD_OUTPUT_DIR_NAMES",
    "EXCLUDED_DIR_NAMES",
    "EXCLUDED_FILE_NAMES",
    "IGNORE_FILE_NAMES",
    "SECRET_DIR_NAMES",
    "SECRET_FILE_PATTERNS",
    "VENV_MARKERS",
    "FileEntry",
    "IgnoreSpec",
    "Workspace",
]

IGNORE_FILE_NAMES = (".gitignore", ".deskmateignore")

# Folders never walked, wherever they are (exact names; `*.egg-info` is matched separately).
EXCLUDED_DIR_NAMES = frozenset({
    # version control
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj",
    # dependencies and installed packages
    "node_modules", "bower_components", ".venv", "site-packages", "dist-packages",
    ".eggs", ".yarn", ".pnpm-store",
    # caches and tool state
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".tox",
    ".nox", ".pytype", ".pyre", ".ipynb_checkpoints", ".cache", ".gradle", ".terraform",
    ".dart_tool", ".stack-work", ".parcel-cache", ".turbo", ".angular", ".expo",
    # build output with names nobody uses for source
    ".next", ".nuxt", ".svelte-kit", ".output", "htmlcov", "_build", "zig-out", ".zig-cache",
    "zig-cache", "DerivedData", "cmake-build-debug", "cmake-build-release",
})

# Build output folders whose names are also plausible package names: excluded unless the
# folder holds an `__init__.py` (pypa/build keeps its source in `src/build/`).
BUILD_OUTPUT_DIR_NAMES = frozenset({"build", "dist", "out", "target"})

# A folder holding one of these is a Python environment (venv, virtualenv, conda), whatever
# its name (`.venv`, `venv`, `env`, `.env`, `py311`, ...).
VENV_MARKERS = ("pyvenv.cfg", "conda-meta")

# Files never read, by exact name.
EXCLUDED_FILE_NAMES = frozenset({".git", ".DS_Store", "Thumbs.db", "desktop.ini"})

# Binary file types, by the last extension, compared lower-case.
BINARY_EXTENSIONS = frozenset({
    # images
    "png", "jpg", "jpeg", "jpe", "gif", "bmp", "ico", "icns", "cur", "tif", "tiff", "webp",
    "avif", "heic", "heif", "jxl", "psd", "xcf", "raw", "cr2", "nef", "dng", "exr", "hdr",
    "tga", "dds", "ai", "sketch", "fig",
    # archives and packages
    "zip", "tar", "gz", "tgz", "bz2", "tbz", "tbz2", "xz", "txz", "lz", "lz4", "lzma", "zst",
    "z", "7z", "rar", "cab", "iso", "img", "dmg", "deb", "rpm", "apk", "aab", "ipa", "msi",
    "pkg", "whl", "egg", "jar", "war", "ear", "aar", "nupkg", "xpi", "crx", "vsix",
    # compiled code and objects
    "o", "obj", "a", "lib", "so", "dylib", "dll", "exe", "com", "pdb", "ilk", "exp", "idb",
    "class", "pyc", "pyo", "pyd", "wasm", "bc", "beam", "elc", "dex", "odex", "ko", "node",
    "lo", "gch", "pch", "rlib", "rmeta", "nib", "bin", "elf",
    # fonts
    "ttf", "otf", "ttc", "woff", "woff2", "eot", "fon", "pfb", "pfm",
    # documents
    "pdf", "doc", "docx", "xls", "xlsx", "xlsm", "ppt", "pptx", "odt", "ods", "odp", "odg",
    "epub", "mobi", "djvu", "ps", "eps", "numbers", "pages",
    # audio and video
    "mp3", "mp4", "m4a", "m4v", "wav", "flac", "ogg", "oga", "ogv", "opus", "aac", "wma",
    "aiff", "mid", "midi", "avi", "mov", "mkv", "webm", "wmv", "flv", "mpg", "mpeg", "3gp",
    "swf",
    # models, tensors and data
    "gguf", "ggml", "safetensors", "pt", "pth", "ckpt", "onnx", "tflite", "pb", "h5", "hdf5",
    "npy", "npz", "pkl", "pickle", "joblib", "parquet", "feather", "arrow", "avro", "orc",
    "mlmodel", "keras", "msgpack", "rdb", "tfrecord",
    # databases
    "sqlite", "sqlite3", "db", "db3", "mdb", "accdb", "ldb", "realm", "frm", "ibd", "myd",
    # 3-D, game and design assets
    "blend", "fbx", "glb", "stl", "3ds", "max", "unitypackage", "pak",
    # editor and OS litter
    "swp", "swo", "lockb",
})

# Secret files, by name (gitignore-style globs on the file name, compared lower-case). Never
# indexed, never in a prompt, whatever an ignore file or config says.
SECRET_FILE_PATTERNS = (
    # environment files (including .env.example: a template is cheap to lose, a real key isn't)
    ".env", ".env.*", "*.env",
    # private keys, certificates bundles and key stores
    "*.pem", "*.key", "*.p12", "*.pfx", "*.p8", "*.ppk", "*.keystore", "*.jks", "*.kdbx",
    "*.gpg", "*.asc",
    # ssh keys
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    # package-manager and tool credentials
    ".npmrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".git-credentials", ".pgpass",
    ".my.cnf", ".htpasswd", ".dockercfg", ".s3cfg", ".boto",
    # credentials files by convention (not credentials.py: that is code)
    "credentials", "credentials.json", "credentials.yml", "credentials.yaml", "credentials.xml",
    "client_secret*.json", "service-account*.json",
    "secrets.json", "secrets.yml", "secrets.yaml", "secrets.toml", "secrets.ini", "secrets.env",
    ".secrets", "*.secret", "*.secrets",
    # infrastructure state that stores secrets in plain text
    "*.tfstate", "*.tfstate.backup", "*.tfvars",
)

# Folders that hold credentials (`.aws/credentials`, ssh keys, cookiecutter-django's `.envs/`).
SECRET_DIR_NAMES = frozenset({
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".password-store", ".env", ".envs",
    ".secrets", "secrets",
})

_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_FILE_PATTERNS))
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


# ---------------------------------------------------------------------------------------------
# gitignore patterns


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


# ---------------------------------------------------------------------------------------------
# the walk


@dataclass(frozen=True, slots=True)
class _Rules:
    """The ignore files in force inside one folder, deepest first."""

    deskmate: tuple[IgnoreSpec, ...] = ()
    git: tuple[IgnoreSpec, ...] = ()  # .gitignore files, then the repository's info/exclude


_NO_RULES = _Rules()


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
                 max_file_bytes: int = 1_000_000) -> None:
        if isinstance(exclude, str):
            raise TypeError("exclude is a sequence of globs, not one string")
        self.root = Path(os.path.abspath(root))
        self.max_file_bytes = max_file_bytes
        self._root = str(self.root)
        self._exclude = IgnoreSpec(exclude, source="[privacy] exclude") if exclude else None
        # Compiled ignore files by absolute path, with the (mtime, size, inode) they came from.
        self._specs: dict[str, tuple[tuple[int, int, int], IgnoreSpec | None]] = {}
        self._ancestors: tuple[tuple[str, str, str], ...] | None = None

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
        stack: list[tuple[str, _Rules, Iterator[os.DirEntry[str]]]] = []
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
        return self._path_reason(parts, canonical=False)

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

    def _rules_reason(self, rel: str, is_dir: bool, rules: _Rules) -> str | None:
        if self._exclude is not None:
            h = self._exclude.hit(rel, is_dir)
            if h is not None and h[0]:
                return f"matches the exclude glob {h[1]!r}"
        for spec in rules.deskmate:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        for spec in rules.git:
            h = spec.hit(rel, is_dir)
            if h is not None:
                return f"ignored by {spec.source} ({h[1]!r})" if h[0] else None
        return None

    def _file_reason(self, name: str, rel: str, rules: _Rules) -> str | None:
        lower = name.lower()
        if _SECRET_RE.match(lower):
            return "a secret file (built-in rule)"
        dot = lower.rfind(".")
        if dot > 0 and lower[dot + 1:] in BINARY_EXTENSIONS:
            return "a binary file type (built-in rule)"
        if name in EXCLUDED_FILE_NAMES:
            return "excluded by name (built-in rule)"
        return self._rules_reason(rel, False, rules)

    def _dir_reason(self, name: str, rel: str, rules: _Rules) -> str | None:
        if name in EXCLUDED_DIR_NAMES or name.endswith(".egg-info"):
            return f"inside {rel}/ (built-in rule)"
        if name.lower() in SECRET_DIR_NAMES:
            return f"inside {rel}/, a folder of secrets (built-in rule)"
        reason = self._rules_reason(rel, True, rules)
        return None if reason is None else f"inside {rel}/, {reason}"

    @staticmethod
    def _content_reason(name: str, rel: str, has: Callable[[str], bool]) -> str | None:
        """Folder rules that look inside the folder (given as `has(child_name)`)."""
        for marker in VENV_MARKERS:
            if has(marker):
                return f"inside {rel}/, a Python environment ({marker}; built-in rule)"
        if name in BUILD_OUTPUT_DIR_NAMES and not has("__init__.py"):
            return f"inside {rel}/, build output (built-in rule)"
        return None

    # -- ignore files -------------------------------------------------------------------------

    def _spec(self, path: str, base: str, prefix: str, source: str) -> IgnoreSpec | None:
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
                data = f.read(self.max_file_bytes)
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

    def _info_exclude(self, top: str, base: str, prefix: str, shown: str
                      ) -> IgnoreSpec | None:
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
        return self._spec(os.path.join(gitdir, "info", "exclude"), base, prefix,
                          shown + ".git/info/exclude")

    def _enter(self, rules: _Rules, folder: str, rel: str, prefix: str,
               has: Callable[[str], bool], shown: str | None = None) -> _Rules:
        """The rules in force inside `folder` (root-relative `rel`), given its parent's.
        `shown` names the folder in exclusion reasons (default: `rel/`)."""
        deskmate, git = rules.deskmate, rules.git
        if shown is None:
            shown = rel + "/" if rel else ""
        if has(".git"):  # a repository starts here: outer .gitignore rules stop applying
            info = self._info_exclude(folder, rel, prefix, shown)
            git = (info,) if info is not None else ()
        if has(".gitignore"):
            spec = self._spec(os.path.join(folder, ".gitignore"), rel, prefix,
                              shown + ".gitignore")
            if spec is not None:
                git = (spec, *git)
        if has(".deskmateignore"):
            spec = self._spec(os.path.join(folder, ".deskmateignore"), rel, prefix,
                              shown + ".deskmateignore")
            if spec is not None:
                deskmate = (spec, *deskmate)
        if deskmate is rules.deskmate and git is rules.git:
            return rules
        return _Rules(deskmate, git)

    def _ancestor_rules(self) -> _Rules:
        """Ignore files between the top of the git repository holding the root and the root."""
        if os.path.lexists(os.path.join(self._root, ".git")):
            return _NO_RULES
        if self._ancestors is None:
            self._ancestors = self._find_ancestors()
        rules = _NO_RULES
        for folder, prefix, shown in self._ancestors:
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

    def _list(self, folder: str, prefix: str, name: str | None, rules: _Rules
              ) -> tuple[str, _Rules, Iterator[os.DirEntry[str]]] | None:
        """A folder's entries sorted by name and the rules inside it; None if it is skipped."""
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            log.debug("skipping %s: %s", prefix or ".", exc)
            return None
        names = {e.name for e in entries}
        rel = prefix[:-1]
        if name is not None and self._content_reason(name, rel, names.__contains__) is not None:
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

    def _linked_file(self, link: str, name: str, rel: str, rules: _Rules,
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

    def _path_reason(self, parts: list[str], canonical: bool) -> str | None:
        folder = self._root
        rel = ""
        rules = self._enter(self._ancestor_rules(), folder, "", "", _holds(folder))
        linked = False
        for name in parts[:-1]:
            rel = rel + "/" + name if rel else name
            folder = os.path.join(folder, name)
            reason = self._dir_reason(name, rel, rules)
            if reason is not None:
                return reason
            linked = linked or os.path.islink(folder)
            has = _holds(folder)
            reason = self._content_reason(name, rel, has)
            if reason is not None:
                return reason
            rules = self._enter(rules, folder, rel, "", has)
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
        reason = self._path_reason(target_rel.split("/"), canonical=True)
        return None if reason is None else f"links to {target_rel}: {reason}"
