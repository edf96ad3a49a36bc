"""On-disk cache of converted score corpora (parsing Essen takes tens of seconds).

An entry is keyed by a hash of: the cache format version, the conversion
rules' version, the music21 version, the conversion settings (grid, off-grid
rule, transposition, limits, whether tunes carry meter/key headers), and every
source file's path and a hash of its bytes (so an edited file is re-parsed,
even one of the same size whose modification time was kept, as ``cp -p``,
``rsync -t`` and ``tar`` keep it). Entries are JSON, written atomically (temp file + os.replace),
and a damaged entry is ignored and rebuilt rather than trusted.

Location: the ``cache_dir`` argument, else ``$LSTMININET_CACHE_DIR``, else
``~/.cache/lstmininet``. Derived data from non-commercial corpora (Essen)
lives only there, never in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

from .scores import CONVERSION_VERSION

CACHE_FORMAT_VERSION = 1
CACHE_DIR_ENV = "LSTMININET_CACHE_DIR"


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "lstmininet"


def cache_key(files: list[Path], settings: dict) -> str:
    """Hash identifying one corpus conversion; changes whenever its inputs do."""
    import music21

    stamps = []
    for path in files:
        # The bytes, not size + mtime: score files are small, and parsing them costs far more.
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        stamps.append([str(Path(path).resolve()), digest])
    description = {
        "cache_format": CACHE_FORMAT_VERSION,
        "conversion": CONVERSION_VERSION,
        "music21": music21.__version__,
        "settings": settings,
        "files": stamps,
    }
    blob = json.dumps(description, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def _entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"corpus-{key[:40]}.json"


def read_cached_corpus(cache_dir: Path, key: str) -> tuple[list[list[str]], dict] | None:
    """Return (melodies, report dict) for ``key``, or None if absent or damaged."""
    path = _entry_path(cache_dir, key)
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        warnings.warn(f"{path}: ignoring unreadable cache entry ({exc}); re-parsing", stacklevel=3)
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("cache_format") != CACHE_FORMAT_VERSION
        or entry.get("key") != key
        or not isinstance(entry.get("melodies"), list)
    ):
        warnings.warn(f"{path}: ignoring damaged cache entry; re-parsing", stacklevel=3)
        return None
    melodies = [line.split() for line in entry["melodies"]]
    return melodies, entry.get("report", {})


def write_cached_corpus(cache_dir: Path, key: str, spec: str, melodies: list[list[str]], report: dict) -> Path:
    """Store a converted corpus atomically; readers never see a half-written file."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _entry_path(cache_dir, key)
    entry = {
        "cache_format": CACHE_FORMAT_VERSION,
        "key": key,
        "spec": spec,
        "report": report,
        "melodies": [" ".join(m) for m in melodies],
    }
    fd, temp_name = tempfile.mkstemp(dir=cache_dir, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(entry, f)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path
