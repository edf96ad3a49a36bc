"""Replacing a file atomically, as checkpoints are: through the core's writer
(cpp/io/atomic_file.hpp), so every file the package saves follows one protocol.

The bytes go to a temporary file beside the target, are flushed to disk and
renamed over it, then the folder is synced: readers see the old or the new
file, never half of one, even if the process is killed mid-write. Temporary
files of writers that were killed are removed by the next write to the same
target. A symbolic link is followed (the file it names is replaced, the link
stays), and a file that exists keeps its permission bits.
"""

from __future__ import annotations

import os

from . import _core


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that it is replaced all at once."""
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that it is replaced all at once; an error
    is an ``OSError`` naming ``path``, as ``open`` raises it."""
    _core.write_file_atomically(os.fsencode(path), bytes(data))
