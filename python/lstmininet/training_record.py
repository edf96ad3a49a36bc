"""Which sequences trained a model, kept beside it so `evaluate` can say whether its data was held out.

`lstmininet train` writes ``MODEL.data.json``: a short fingerprint of every
training sequence and every validation sequence (the split ``fit`` makes
with the same ``val_fraction`` and seed). Fingerprints are hashes of the
token text, so nothing of the data itself is stored. Plain Python.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .atomic_file import write_text_atomically

RECORD_FORMAT = "lstmininet-training-record"
_DIGEST_BYTES = 8  # 64 bits: collisions among a few million sequences are negligible


def fingerprint(tokens: Sequence[str]) -> str:
    """A short hash of one sequence's tokens (the same tokens give the same fingerprint)."""
    text = "\x1f".join(tokens)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_DIGEST_BYTES).hexdigest()


def write_record(
    path: str | os.PathLike,
    train: Iterable[Sequence[str]],
    val: Iterable[Sequence[str]],
    data: str,
    previous: dict | None = None,
) -> Path:
    """Write the fingerprints; with ``previous`` (an earlier record: resumed training) keep its entries too."""
    record = {"format": RECORD_FORMAT, "data": [], "train": [], "val": []}
    if previous:
        for key in ("data", "train", "val"):
            record[key] = list(previous.get(key, []))
    if data not in record["data"]:
        record["data"].append(data)
    for key, sequences in (("train", train), ("val", val)):
        known = set(record[key])
        for tokens in sequences:
            mark = fingerprint(tokens)
            if mark not in known:
                known.add(mark)
                record[key].append(mark)
    path = Path(path)
    write_text_atomically(path, json.dumps(record))  # a Ctrl-C mid-write left an empty file that blocked --resume
    return path


def read_record(path: str | os.PathLike) -> dict | None:
    """The record at ``path``, or None if there is none; ValueError if it is not one."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a training record ({err})") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise ValueError(f"{path}: not a training record (no format {RECORD_FORMAT!r})")
    return record


def overlap(record: dict, sequences: Iterable[Sequence[str]]) -> tuple[int, int, int]:
    """(sequences given, how many trained the model, how many were in its validation split)."""
    train, val = set(record.get("train", [])), set(record.get("val", []))
    total = in_train = in_val = 0
    for tokens in sequences:
        mark = fingerprint(tokens)
        total += 1
        in_train += mark in train
        in_val += mark in val
    return total, in_train, in_val


def describe_overlap(total: int, in_train: int, in_val: int) -> str:
    """One sentence for `evaluate`: is this a held-out score?"""
    if in_train:
        return (
            f"{in_train} of {total} sequences trained this model ({in_val} were in its validation split): "
            "the loss is not a held-out score"
        )
    if in_val == total:
        return f"all {total} sequences are this model's validation split (held out from training)"
    if in_val:
        return f"none of the {total} sequences trained this model ({in_val} were in its validation split)"
    return f"none of the {total} sequences trained this model or were in its validation split"
