"""The exclusion rules: which files and folders never reach a model, whatever else says so.

This is the single gate's verdict on names and contents. The workspace walk (`workspace.py`)
applies it to every file and folder before the user's globs and ignore files, and so does every
prompt for a document the editor opened, inside the workspace (`Workspace.exclusion_reason`) or
outside it (`outside_reason`): a file the index skips can never reach a model by another route
(issue 5). The rules are final: no ignore file or config can re-include what they exclude.

- Secret files, by name (`SECRET_FILE_PATTERNS`), and everything inside a folder of secrets
  (`SECRET_DIR_NAMES`: `.ssh`, `.aws`, ...).
- Binary file types (`BINARY_EXTENSIONS`) and OS litter (`EXCLUDED_FILE_NAMES`).
- Tool and dependency folders (`EXCLUDED_DIR_NAMES`, `*.egg-info`).
- Rules that look inside a folder: build output (`BUILD_OUTPUT_DIR_NAMES`, unless the folder is
  a Python package: `src/build/__init__.py` is source) and virtualenvs (any folder holding one
  of `VENV_MARKERS`).

Each rule answers with its reason in words, for the log and for the message the user sees when
a completion is refused. Secrets written inside ordinary files are `redact.py`'s business.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "BINARY_EXTENSIONS",
    "BUILD_OUTPUT_DIR_NAMES",
    "EXCLUDED_DIR_NAMES",
    "EXCLUDED_FILE_NAMES",
    "SECRET_DIR_NAMES",
    "SECRET_FILE_PATTERNS",
    "VENV_MARKERS",
    "ExcludedDocument",
    "content_reason",
    "dir_reason",
    "file_reason",
    "outside_reason",
]



class ExcludedDocument(ValueError):
    """Raised by the context engine for a cursor document the rules exclude: the second line
    of defence behind the server's gate, so an excluded document never becomes a prompt."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


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


def file_reason(name: str) -> str | None:
    """Why a file called `name` is excluded by a built-in rule, or None."""
    lower = name.lower()
    if _SECRET_RE.match(lower):
        return "a secret file (built-in rule)"
    dot = lower.rfind(".")
    if dot > 0 and lower[dot + 1:] in BINARY_EXTENSIONS:
        return "a binary file type (built-in rule)"
    if name in EXCLUDED_FILE_NAMES:
        return "excluded by name (built-in rule)"
    return None


def dir_reason(name: str, shown: str) -> str | None:
    """Why a folder called `name` (shown in the reason as `shown`) is excluded with everything
    inside it by a built-in rule on its name, or None."""
    if name in EXCLUDED_DIR_NAMES or name.endswith(".egg-info"):
        return f"inside {shown}/ (built-in rule)"
    return _secret_dir_reason(name, shown)


def _secret_dir_reason(name: str, shown: str) -> str | None:
    if name.lower() in SECRET_DIR_NAMES:
        return f"inside {shown}/, a folder of secrets (built-in rule)"
    return None


def content_reason(name: str, shown: str, has: Callable[[str], bool]) -> str | None:
    """Why a folder is excluded by a built-in rule that looks inside it (`has(child_name)`
    says whether it holds an entry of that name), or None: checked after `dir_reason`, since
    it costs a look into the folder."""
    for marker in VENV_MARKERS:
        if has(marker):
            return f"inside {shown}/, a Python environment ({marker}; built-in rule)"
    if name in BUILD_OUTPUT_DIR_NAMES and not has("__init__.py"):
        return f"inside {shown}/, build output (built-in rule)"
    return None


def outside_reason(path: Path) -> str | None:
    """Why a document outside every workspace must never reach a model, or None.

    Outside a workspace there are no ignore files or config globs to apply and no walk has
    seen the folders, so only the rules by name do: the file's name, and the name of each
    folder above it that holds secrets (`~/.ssh/config`, `~/.aws/credentials`). Tool and
    dependency folders (`node_modules`, `site-packages`) keep a workspace's index small; they
    are not secret, so a library file opened from one is served. A link is also judged by the
    path it resolves to, so `notes.txt -> ~/.ssh/id_rsa` is excluded like its target."""
    reason = _named_reason(path)
    if reason is not None or not path.is_absolute():
        return reason
    if os.path.islink(path) and not os.path.exists(path):
        return "a broken or looping link"  # nothing can say where it leads
    real = Path(os.path.realpath(path))
    if real == path:
        return None
    reason = _named_reason(real)
    return None if reason is None else f"links to {real}: {reason}"


def _named_reason(path: Path) -> str | None:
    """The verdict of the rules by name on `path`: its folders from the top down, then its
    own name (the order the walk meets them in)."""
    for folder in reversed(path.parents):
        if folder.name and (reason := _secret_dir_reason(folder.name, str(folder))) is not None:
            return reason
    return file_reason(path.name)
