"""Replacing a small file atomically, as checkpoints are (cpp/io/checkpoint.cpp).

The text goes to ``PATH.tmp-PID-N`` beside the target, is flushed to disk and
renamed over it, then the directory is synced: readers see the old or the
new file, never half of one, even if the process is killed mid-write.
Temporary files left by writers that have died are removed on the next write.
A symbolic link is followed (the file it names is replaced, the link stays),
and a file that exists keeps its permission bits.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
from pathlib import Path

_counter = itertools.count(1)

# ".tmp-PID-N" takes up to 22 bytes; a file name may have 255.
_NAME_KEPT = 255 - 22


def _temp_prefix(name: str) -> str:
    """The start of a target's temporary file names: its name, cut short if long."""
    return name.encode("utf-8", "surrogateescape")[:_NAME_KEPT].decode("utf-8", "ignore") + ".tmp-"


def _writer_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temp_files(path: Path) -> None:
    """Delete ``PATH.tmp-PID[-N]`` files whose writer process no longer exists."""
    pattern = re.compile(re.escape(_temp_prefix(path.name)) + r"(\d{1,9})(?:-\d{1,9})?")
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _writer_is_alive(pid):
            continue
        try:
            if entry.is_file() and not entry.is_symlink():
                entry.unlink()
        except OSError:
            pass


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that it is replaced all at once."""
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it is replaced all at once."""
    given = Path(path)
    try:
        path = given.resolve() if given.is_symlink() else given
    except RuntimeError:  # Python 3.11's resolve() reports a loop so
        raise OSError(errno.ELOOP, "too many levels of symbolic links", str(given)) from None
    if path.exists() and not path.is_file():
        raise OSError(f"cannot write '{given}': it exists and is not a regular file")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    remove_stale_temp_files(path)
    tmp = path.with_name(f"{_temp_prefix(path.name)}{os.getpid()}-{next(_counter)}")
    try:
        with open(tmp, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
