"""The result of a check, kept by the content of everything it read.

A second run over an unchanged estate (a CI job retried, the same branch checked again,
a pre-push hook after a pre-commit one) returns the first run's report instead of loading,
rendering and judging thousands of objects again. An entry is used only when:

- the settings are the same: tool version and the checker's own files (code, bundled
  schemas and packs, by size and modification time), kubectl and Helm, the paths and root,
  the whole configuration with command-line overrides, the policy directories and pack
  plug-ins, the baseline, `--changed` files, the schema-only switch, and today's date
  (exceptions expire);
- the estate lists the same files (discovery is run again: a new file is a change), and
- every file the first run read has the same content (BLAKE2 digests): the files found,
  what kustomizations name and every file beside one, chart files, policy files, config.

Entries are pickles, written to a temporary file and renamed (concurrent runs see an
old entry or a new one, never half of one), in a directory only the user can write: a
cache directory that someone else owns or can write to is not used, since loading a pickle
runs code. Findings in an entry are already masked, as in any report. The newest
`ENTRY_LIMIT` entries are kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from checker import __version__
from checker.model import Report

CACHE_DIR_ENV = "GITOPS_CHECKER_CACHE_DIR"
ENTRY_LIMIT = 64
_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent


def default_directory() -> Path:
    """$GITOPS_CHECKER_CACHE_DIR, else the platform's user cache directory."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("gitops-checker", appauthor=False)) / "results"


@dataclass(frozen=True)
class _Entry:
    format: int
    candidates: tuple[str, ...]
    digests: dict[str, str]
    report: Report


class ResultCache:
    """Reports of earlier runs by their settings, checked against the files they read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def open(cls, directory: Path | None = None) -> ResultCache | None:
        """The cache, or None when its directory cannot be made safe to use."""
        directory = _own_directory(directory or default_directory(), parents=True)
        return None if directory is None else cls(directory)

    def get(self, key: str, candidates: Sequence[str]) -> Report | None:
        path = self.directory / f"{key}.pickle"
        try:
            with path.open("rb") as handle:
                entry = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception:  # noqa: BLE001 - a damaged entry is a miss, never a failure
            return None
        if not isinstance(entry, _Entry) or entry.format != _FORMAT or \
                entry.candidates != tuple(candidates):
            return None
        for name, digest in entry.digests.items():  # absolute paths
            if file_digest(Path(name)) != digest:
                return None
        try:
            os.utime(path)  # recently used: kept longest
        except OSError:
            pass
        return entry.report

    def put(self, key: str, candidates: Sequence[str], inputs: Iterable[Path],
            report: Report, *, started_ns: int) -> None:
        """Keep a report, unless a file it read changed since the run began at
        `started_ns` (its content may be newer than what was checked)."""
        files = _files(Path(os.path.abspath(p)) for p in inputs)
        for path in files:
            try:
                if os.stat(path).st_mtime_ns >= started_ns:
                    return
            except OSError:
                pass  # missing: recorded as such below
        digests = {str(path): file_digest(path) for path in files}
        _write_atomically(self.directory / f"{key}.pickle",
                          _Entry(_FORMAT, tuple(candidates), digests, report))
        _prune(self.directory, ENTRY_LIMIT)


class RenderCache:
    """Builds of Kustomize overlays by the content of every file of their kustomizations'
    directories and what they name, with kubectl's identity: a change elsewhere in the
    estate (a pre-commit hook's one file) leaves the other overlays' builds valid. Helm
    renders and the repository's remotes are kept the same way.

    Every entry is sealed: encrypted (AES-GCM) with a key drawn from the content of the
    files it was made from and its settings, by a hash that nothing else keeps. Only a run
    that has those same files can open it, and such a run could read whatever it holds from
    them anyway (Secret values included, wherever a chart or an overlay puts them); once the
    files change, the entry opens for nobody. Without the `cryptography` package nothing is
    kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def open(cls, results: ResultCache) -> RenderCache | None:
        directory = _own_directory(results.directory / "renders")
        return None if directory is None else cls(directory)

    @staticmethod
    def key(files: Iterable[Path], tool: str | None) -> tuple[str, bytes]:
        """(the entry's name, the key that seals it), both from one read of each file."""
        settings = f"{_FORMAT}\0{__version__}\0{tool}\0".encode("utf-8", "surrogatepass")
        name = hashlib.blake2b(settings, digest_size=20)
        # Personalised: a hash no cache keeps (entry names, `file_digest`s of inputs). The
        # settings are in it too: a chart's values given by an app are not in any file.
        seal = hashlib.blake2b(digest_size=32, person=b"gc-render-seal")
        seal.update(len(settings).to_bytes(8, "big") + settings)
        for path in sorted(_files(files)):
            try:
                content = path.read_bytes()
            except OSError as exc:
                digest = f"unreadable:{exc.errno}"
                content = digest.encode()
            else:
                digest = hashlib.blake2b(content).hexdigest()[:40]  # as file_digest
            shown = str(path).encode("utf-8", "surrogatepass")
            name.update(shown + b"\0" + digest.encode() + b"\0")
            seal.update(len(shown).to_bytes(8, "big") + shown)
            seal.update(len(content).to_bytes(8, "big") + content)
        return name.hexdigest(), seal.digest()

    def get(self, key: tuple[str, bytes]) -> object | None:
        name, seal = key
        try:
            with (self.directory / f"{name}.pickle").open("rb") as handle:
                value = pickle.load(handle)
            if not isinstance(value, _Sealed):
                return None  # (kept in the clear by an earlier version)
            return pickle.loads(_unseal(value, name, seal))
        except Exception:  # noqa: BLE001 - missing, damaged or not ours to open: build again
            return None

    def put(self, key: tuple[str, bytes], value: object, *, files: Iterable[Path],
            tool: str | None) -> None:
        """Keep what was made from `files` after `key` was taken from them, unless they
        changed meanwhile (it may hold their newer content, which that key must not name or
        open)."""
        if self.key(files, tool) != key:
            return
        name, seal = key
        try:
            sealed = _seal(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), name, seal)
        except Exception:  # noqa: BLE001 - no cipher here (or an unpicklable build)
            return
        _write_atomically(self.directory / f"{name}.pickle", sealed)

    def prune(self, limit: int = 4096) -> None:
        _prune(self.directory, limit)


class JsonCache:
    """Data derived from the checker's, the packs' and the environment's files (not the
    estate's): the definitions a built-in kind's schema reaches, rule packs as read, what
    is installed. JSON named by a digest of what it was derived from; nothing in it is
    secret, unpickled or imported, and a damaged entry is a miss. (Rego modules in it are
    evaluated, like any policy: the directory is the result cache's, owner-only.)"""

    LIMIT = 4096

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def open(cls, results: ResultCache, name: str) -> JsonCache | None:
        directory = _own_directory(results.directory / name)
        return None if directory is None else cls(directory)

    def get(self, digest: str) -> Any:
        """The value kept under `digest`, or None."""
        try:
            return json.loads((self.directory / f"{digest}.json").read_bytes())
        except (OSError, ValueError):
            return None

    def put(self, digest: str, value: Any) -> None:
        try:
            text = json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            return
        _replace_atomically(self.directory / f"{digest}.json", lambda out: out.write(text))
        _prune(self.directory, self.LIMIT, "*.json")


def _own_directory(directory: Path, *, parents: bool = False) -> Path | None:
    """`directory`, made if missing, unless another user could write there (and plant a
    pickle), or it cannot be made."""
    try:
        directory.mkdir(parents=parents, exist_ok=True, mode=0o700)
        info = directory.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return directory


@dataclass(frozen=True)
class _Sealed:
    nonce: bytes
    ciphertext: bytes


def _seal(plain: bytes, name: str, seal: bytes) -> _Sealed:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return _Sealed(nonce, AESGCM(seal).encrypt(nonce, plain, name.encode()))


def _unseal(sealed: _Sealed, name: str, seal: bytes) -> bytes:
    """Raises when the key is not the one it was sealed with (the cipher's tag fails)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(seal).decrypt(sealed.nonce, sealed.ciphertext, name.encode())


def _prune(directory: Path, limit: int, pattern: str = "*.pickle") -> None:
    """The newest `limit` entries kept (a hit refreshes an entry's time)."""
    try:
        entries = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime,
                         reverse=True)
        for stale in entries[limit:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def _write_atomically(target: Path, value: object) -> None:
    """`value` pickled into `target`, atomically (see `_replace_atomically`)."""
    _replace_atomically(
        target, lambda out: pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL))


def _replace_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """A temporary file renamed over the entry: readers see the old entry or the new one.
    Failing to keep an entry (a full disk, a value that cannot be pickled) costs the next
    run time, nothing else."""
    temporary: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".tmp-",
                                         suffix=target.suffix, delete=False) as handle:
            temporary = handle.name
            write(handle)
        os.replace(temporary, target)
        temporary = None
    except Exception:  # noqa: BLE001, S110 - see above
        pass
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def run_key(*, paths: Sequence[str], root: Path, config: object,
            policy_dirs: Sequence[Path], config_dirs: Sequence[Path],
            baseline: Path | None, focus: object, with_rules: bool,
            today: dt.date, derived: JsonCache | None = None) -> str:
    """The settings of a run, as a digest; files are compared separately. `derived`: where
    what is installed is kept (`checker.installed`)."""
    from checker.installed import installed
    from checker.render.kustomize import kubectl_path

    found = installed(derived)

    parts: list[object] = [
        _FORMAT, __version__, sys.version, _tool_signature(),
        binary_signature(kubectl_path()), found.versions["helm-python-sdk"],
        [str(Path(p).resolve()) if p != "-" else p for p in paths], str(root.resolve()),
        repr(config), with_rules, repr(focus), today.isoformat(),
        [(str(p.resolve()), _tree_digest(p)) for p in [*policy_dirs, *config_dirs]],
        str(baseline.resolve()) if baseline else None,
        file_digest(baseline) if baseline else None,
        [tuple(entry) for entry in found.packs],
        # Engines whose verdicts could change with their version.
        sorted(found.versions.items()),
        # Git's configuration says which repository this is (Argo CD apps naming it are
        # rendered from it): the repository's own and the user's and system's.
        [(str(p), file_digest(p)) for p in git_config_files(root)],
    ]
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"),
                           digest_size=20).hexdigest()


def git_config_files(root: Path) -> list[Path]:
    """The git configuration files that apply to `root` (those gitpython's reader reads): its
    repository's own (when `.git` is a directory), the user's, the global and the system's."""
    from checker.discover import repository_top

    home = Path.home()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return [repository_top(root) / ".git" / "config", home / ".gitconfig",
            xdg / "git" / "config", Path("/etc/gitconfig")]


def file_digest(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "blake2b").hexdigest()[:40]
    except OSError as exc:
        return f"unreadable:{exc.errno}"


def _files(paths: Iterable[Path]) -> set[Path]:
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file())
        else:
            found.add(path)  # a missing file is recorded as such: its arrival is a change
    return found


def _tree_digest(directory: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    for path in sorted(_files([directory])):
        digest.update(f"{path}\0{file_digest(path)}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _tool_signature() -> str:
    """The checker's own files, by size and modification time (an edit in a checkout, a
    reinstall): code, and the schemas and packs it bundles."""
    from checker.resources import RULES_DIR, SCHEMAS_DIR

    digest = hashlib.blake2b(digest_size=20)
    for top in (_PACKAGE, RULES_DIR, SCHEMAS_DIR):
        for directory, subdirectories, files in os.walk(top):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for name in sorted(files):
                try:
                    info = os.stat(os.path.join(directory, name))
                except OSError:
                    continue
                digest.update(f"{directory}/{name}\0{info.st_size}\0{info.st_mtime_ns}\0"
                              .encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def binary_signature(path: str | None) -> str | None:
    """A program's identity: its path, size and modification time."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"
