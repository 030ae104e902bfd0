"""The exclusion rules: which files and folders never reach a model, whatever else says so.

This is the single gate's verdict on names and contents. The workspace walk (`workspace.py`)
applies it to every file and folder before the user's globs and ignore files, and so does every
prompt for a document the editor opened (`server/jobs/gate.py`): inside the workspace by the
workspace's rules (`Workspace.exclusion_reason`), and wherever it is by the rules by name on its
whole path, as given and as it resolves (`path_reason`): a folder of secrets counts above the
workspace root too, with no workspace at all, and behind a folder link. A file the index skips
can never reach a model by another route (issue 5). The rules are final: no ignore file or
config can re-include what they exclude.

- Secret files, by name (`SECRET_FILE_PATTERNS`, `SECRET_NAME_PREFIXES`) or by name and folder
  (`SECRET_FILE_PATHS`: `gh/hosts.yml`), and everything inside a folder of secrets
  (`SECRET_DIR_NAMES`: `.ssh`, `.aws`, ...; `SECRET_DIR_PATHS`: `.config/gcloud`, ...). A
  workspace whose root is such a folder, or inside one, has nothing to offer (`root_reason`).
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
    "CODE_EXTENSIONS",
    "EXCLUDED_DIR_NAMES",
    "EXCLUDED_FILE_NAMES",
    "SECRET_DIR_NAMES",
    "SECRET_DIR_PATHS",
    "SECRET_FILE_PATHS",
    "SECRET_FILE_PATTERNS",
    "SECRET_NAME_PREFIXES",
    "VENV_MARKERS",
    "ExcludedDocument",
    "content_reason",
    "dir_reason",
    "file_reason",
    "outside_reason",
    "path_reason",
    "root_reason",
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
# indexed, never in a prompt, whatever an ignore file or config says. Grouped by who writes them.
SECRET_FILE_PATTERNS = (
    # environment files (including .env.example: a template is cheap to lose, a real key isn't),
    # direnv's, Cloudflare wrangler's
    ".env", ".env.*", "*.env", ".envrc", ".dev.vars",
    # private keys, certificate bundles, key stores, keyrings and password databases
    "*.pem", "*.key", "*.p12", "*.pfx", "*.pkcs12", "*.p8", "*.ppk", "*.pvk", "*.snk",
    "*.keystore", "*.jks", "*.bks", "*.kdbx", "*.kdb", "*.keytab", "*.keychain",
    "*.keychain-db", "*.keyring", "*.gpg", "*.pgp", "*.asc", "secring.*",
    # age and sops keys, VPN and Wi-Fi profiles (they embed keys and passphrases)
    "*.age", "*.agekey", "keys.txt", "*.ovpn", "*.nmconnection", "wpa_supplicant*.conf",
    "chap-secrets", "pap-secrets",
    # system account databases (/etc/shadow and its kin)
    "shadow", "shadow-", "gshadow", "gshadow-", "master.passwd", "opasswd",
    # package managers and registries: npm, yarn, pip, PyPI, Composer, Dart, Maven, Cargo
    ".npmrc", ".yarnrc", ".yarnrc.yml", ".pypirc", "pip.conf", "pip.ini",
    "pub-credentials.json", "pub-tokens.json", "settings-security.xml",
    # git, netrc and friends, databases, mail
    ".netrc", "_netrc", ".authinfo", ".git-credentials", ".gitcookies", ".pgpass",
    ".pg_service.conf", ".my.cnf", ".mylogin.cnf", ".htpasswd", ".msmtprc", ".fetchmailrc",
    # cloud and infrastructure CLIs: Docker, S3 tools, rclone, gcloud, Azure, Terraform,
    # Vault, Ansible Vault, Kubernetes, OpenStack, Databricks, Sentry, Kaggle
    ".dockercfg", ".s3cfg", ".boto", ".passwd-s3fs", "rclone.conf",
    "application_default_credentials.json", "accesstokens.json", "msal_token_cache.*",
    "credentials.tfrc.json", ".terraformrc", "terraform.rc", ".vault-token", "*.kubeconfig",
    "k3s.yaml", "clouds.yaml", "clouds.yml", "*-openrc.sh", ".databrickscfg", ".sentryclirc",
    "kaggle.json",
    # saved logins: Firefox, FileZilla, WinSCP, wallets
    "logins.json", "sitemanager.xml", "recentservers.xml", "winscp.ini", "wallet.dat",
    # credentials files by convention (not credentials.py: that is code)
    "credentials", "credentials.json", "credentials.toml", "credentials.yml",
    "credentials.yaml", "credentials.xml", "credentials.ini", "credentials.csv",
    "*_accesskeys.csv", "client_secret*.json", "service-account*.json",
    "secrets.json", "secrets.yml", "secrets.yaml", "secrets.toml", "secrets.ini", "secrets.env",
    "secret.json", "secret.yml", "secret.yaml", "secret.toml",
    ".secrets", "*.secret", "*.secrets",
    # shell, REPL and database client histories (commands typed with passwords in them)
    "*_history", ".history", ".zhistory", ".histfile", "consolehost_history.txt", ".lesshst",
    ".viminfo", ".dbshell",
    # infrastructure state and variables that hold secrets in plain text
    "*.tfstate", "*.tfstate.backup", "*.tfvars", "*.tfvars.json",
)

# Secret files whose name *starts* with one of these (`id_rsa`, `id_ed25519_work`,
# `kubeconfig-prod.yaml`), unless the name ends in a source-code extension: `kubeconfig.go` and
# `id_rsa_test.py` are code about them, not them.
SECRET_NAME_PREFIXES = (
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "ssh_host_", "kubeconfig", ".vault_pass",
    ".vault-pass", "vault_pass", "vault-pass",
)
CODE_EXTENSIONS = frozenset({
    "py", "pyi", "go", "rs", "js", "mjs", "cjs", "ts", "mts", "cts", "tsx", "jsx", "java", "kt",
    "kts", "scala", "groovy", "rb", "php", "c", "h", "cc", "cpp", "cxx", "hh", "hpp", "cs",
    "fs", "swift", "m", "mm", "dart", "lua", "pl", "pm", "r", "jl", "ex", "exs", "erl", "hs",
    "ml", "clj", "vue", "svelte", "zig", "nim", "md", "rst", "adoc",
})

# Secret files known by their folder too ('/'-separated trailing parts of the path, compared
# lower-case): `hosts.yml` is an Ansible inventory, `gh/hosts.yml` the GitHub CLI's token.
SECRET_FILE_PATHS = (
    "gh/hosts.yml", ".config/hub", "github-copilot/hosts.json", "github-copilot/apps.json",
    "glab-cli/config.yml", ".m2/settings.xml", ".gradle/gradle.properties", ".bundle/config",
    "pypoetry/auth.toml", ".hex/hex.config", "nuget/nuget.config", "helm/repositories.yaml",
    "helm/registry/config.json", "huggingface/token", "huggingface/stored_tokens",
    "doctl/config.yaml", "hcloud/cli.toml", "scw/config.yaml", ".config/linode-cli",
    "netlify/config.json", ".circleci/cli.yml", "composer/auth.json", ".composer/auth.json",
    "containers/auth.json", "com.vercel.cli/auth.json", ".codex/auth.json",
)

# Folders that hold credentials, by name, wherever they are — above the workspace root too
# (`.aws/credentials`, ssh keys, cookiecutter-django's `.envs/`, cloud CLIs' state).
SECRET_DIR_NAMES = frozenset({
    ".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".password-store", ".env", ".envs",
    ".secrets", "secrets", ".credentials", ".terraform.d", ".pulumi", ".minikube", ".talos",
    ".oci", ".aliyun", ".bluemix", ".tccli", ".fly", ".snowsql", ".dbt", "keychains",
})

# Folders of secrets known by their parent too (as SECRET_FILE_PATHS): gcloud's state, desktop
# keyrings, the configstore many npm CLIs keep tokens in, system key folders.
SECRET_DIR_PATHS = (
    ".config/gcloud", "appdata/roaming/gcloud", ".local/share/keyrings", ".config/configstore",
    ".config/op", ".config/sops", ".wrangler/config", "etc/ssl/private", "etc/wireguard",
    "etc/ipsec.d/private",
)

_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_FILE_PATTERNS))
_PREFIX_RE = re.compile("|".join(re.escape(p) for p in SECRET_NAME_PREFIXES))


def _by_name(suffixes: tuple[str, ...]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Suffix rules by their last part (what a file or folder is called), each with the
    parts that must come right above it."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for suffix in suffixes:
        *above, name = suffix.split("/")
        table.setdefault(name, []).append(tuple(above))
    return {name: tuple(above) for name, above in table.items()}


_SECRET_FILE_TABLE = _by_name(SECRET_FILE_PATHS)
_SECRET_DIR_TABLE = _by_name(SECRET_DIR_PATHS)


def _suffix_hit(table: dict[str, tuple[tuple[str, ...], ...]], name: str, path: str | None
                ) -> str | None:
    """The rule of `table` that the file or folder `name` at `path` matches, or None."""
    candidates = table.get(name)
    if candidates is None or path is None:
        return None
    parts = [p for p in path.lower().replace("\\", "/").split("/") if p not in ("", ".")]
    for above in candidates:
        if len(parts) > len(above) and tuple(parts[len(parts) - 1 - len(above):-1]) == above:
            return "/".join((*above, name))
    return None


def file_reason(name: str, path: str | None = None) -> str | None:
    """Why a file called `name` is excluded by a built-in rule, or None. With `path` (the
    file's path, absolute or relative, '/' or the OS's separators), the rules that need the
    folders above it too (`gh/hosts.yml`) apply as well."""
    lower = name.lower()
    if _SECRET_RE.match(lower) or (_PREFIX_RE.match(lower)
                                   and lower.rpartition(".")[2] not in CODE_EXTENSIONS):
        return "a secret file (built-in rule)"
    if (hit := _suffix_hit(_SECRET_FILE_TABLE, lower, path)) is not None:
        return f"a secret file ({hit}; built-in rule)"
    dot = lower.rfind(".")
    if dot > 0 and lower[dot + 1:] in BINARY_EXTENSIONS:
        return "a binary file type (built-in rule)"
    if name in EXCLUDED_FILE_NAMES:
        return "excluded by name (built-in rule)"
    return None


def dir_reason(name: str, shown: str, path: str | None = None) -> str | None:
    """Why a folder called `name` (shown in the reason as `shown`) is excluded with everything
    inside it by a built-in rule on its name, or None. With `path` (as for `file_reason`), the
    rules that need the folders above it too (`.config/gcloud`) apply as well."""
    if name in EXCLUDED_DIR_NAMES or name.endswith(".egg-info"):
        return f"inside {shown}/ (built-in rule)"
    return _secret_dir_reason(name, shown, path)


def _secret_dir_reason(name: str, shown: str, path: str | None) -> str | None:
    lower = name.lower()
    if lower in SECRET_DIR_NAMES or _suffix_hit(_SECRET_DIR_TABLE, lower, path) is not None:
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


def root_reason(root: Path) -> str | None:
    """Why nothing in the workspace at `root` may reach a model, or None: the root is a folder
    of secrets or lies inside one (a workspace opened on `~/.ssh`, `~/.aws` or
    `~/.config/gcloud`), by its path as given or as it resolves. The walk then yields nothing
    and every path in it is excluded: a folder's secrets do not become shareable because the
    editor was opened on the folder itself."""
    given = Path(os.path.abspath(root))
    for candidate in dict.fromkeys((given, Path(os.path.realpath(given)))):
        for folder in (*reversed(candidate.parents), candidate):
            if folder.name and (reason := _secret_dir_reason(folder.name, str(folder),
                                                             str(folder))) is not None:
                return f"the workspace is {reason}"
    return None


def path_reason(path: Path) -> str | None:
    """Why the document at `path` must never reach a model by the rules by name, or None:
    the file's name, the names of all the folders above it that hold secrets
    (`~/.ssh/config`, `~/.aws/credentials`, `~/.config/gcloud/...`), up to the top of the
    file system — above a workspace's root too — and the same for the path it resolves to, so
    that `notes.txt -> ~/.ssh/id_rsa` and `ws/link-to-home/.ssh/config` are excluded like
    their targets. Outside a workspace these are the only rules that apply: there are no
    ignore files or config globs, and no walk has seen the folders. Tool and dependency
    folders (`node_modules`, `site-packages`) keep a workspace's index small; they are not
    secret, so a library file opened from one is served."""
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


# The verdict for a document outside every workspace is the rules by name on its path.
outside_reason = path_reason


def _named_reason(path: Path) -> str | None:
    """The verdict of the rules by name on `path`: its folders from the top down, then its
    own name (the order the walk meets them in)."""
    for folder in reversed(path.parents):
        if folder.name and (reason := _secret_dir_reason(folder.name, str(folder),
                                                         str(folder))) is not None:
            return reason
    return file_reason(path.name, str(path))
