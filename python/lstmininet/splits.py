"""The one train/validation/test split, used by ``split_dataset`` and ``fit(val_fraction=...)``.

Works on any sequence of items (melodies as token lists, token-id
sequences, ...). Plain Python: no package or third-party imports.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import NamedTuple


class DatasetSplit(NamedTuple):
    train: list
    val: list
    test: list


def split_dataset(
    items: Sequence, val_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0
) -> DatasetSplit:
    """Shuffle with ``seed`` and cut into train/val/test; same seed, same split.

    Sizes are ``round(n * fraction)``; a nonzero fraction gets at least one
    item. The first ``n_val`` shuffled items are the validation set, the next
    ``n_test`` the test set, the rest (in shuffled order) the training set.
    The shuffle uses its own ``random.Random(seed)``, so the global random
    state neither changes nor matters. Every copy of a held-out item is held
    out with it (so the sets can grow past their sizes): a tune a corpus holds
    twice would otherwise train the model and also judge it, unless that
    would leave no training item. Raises ValueError if a fraction is
    outside [0, 1) or nothing would be left for training.
    """
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {fraction}")
    count = len(items)

    def size(fraction: float) -> int:
        return max(1, round(count * fraction)) if fraction > 0 else 0

    n_val, n_test = size(val_fraction), size(test_fraction)
    if count - n_val - n_test < 1:
        raise ValueError(f"cannot split {count} sequences into val={n_val}, test={n_test} and a non-empty training set")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    parts = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": []}
    held_out = {}  # an item's content -> the part that holds it out
    for name in ("val", "test"):
        for i in parts[name]:
            held_out.setdefault(_content(items[i]), name)
    held_out.pop(None, None)
    rest = order[n_val + n_test :]
    for i in rest:
        parts[held_out.get(_content(items[i]), "train")].append(i)
    if not parts["train"]:  # every training item is a copy of a held-out one: keep the plain cut
        parts = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": rest}
    return DatasetSplit(*([items[i] for i in parts[name]] for name in ("train", "val", "test")))


def _content(item):
    """A hashable stand-in for an item's content (a token list as a tuple), or None if it has none."""
    try:
        key = tuple(item)
    except TypeError:  # not a sequence: the item itself
        key = item
    try:
        hash(key)
    except TypeError:  # e.g. the rows of a 2-D array
        return None
    return key
