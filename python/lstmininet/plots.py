"""Training curves and piano rolls as PNG files with matplotlib.

Without ``ax`` each function builds a standalone ``Figure`` (rendered by the
headless Agg canvas, never through pyplot), so it works on servers, leaks no
figures in loops, and does not change a notebook's backend. With ``ax`` it
draws into that axes (e.g. inline in a notebook) and saves only if ``path``
is given. matplotlib is imported inside the functions, so importing this
module (or the CLI) does not load it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .melody import DEFAULT_STEPS_PER_QUARTER, melody_events
from .metrics import HISTOGRAMS, histograms


def _finite_points(values) -> tuple[list[int], list[float]]:
    """(epoch, value) pairs with None/NaN removed; epochs count from 1."""
    epochs, kept = [], []
    for epoch, value in enumerate(values or [], start=1):
        if value is None:
            continue
        value = float(value)
        if math.isfinite(value):
            epochs.append(epoch)
            kept.append(value)
    return epochs, kept


def _save(ax, path):
    """Save to ``path`` if given; return it (None when only drawing into a caller's ax)."""
    if path is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_loss_curves(
    history: Mapping[str, Sequence[float | None]],
    path: str | os.PathLike | None = None,
    *,
    title: str = "Training loss",
    ax=None,
) -> Path | None:
    """Plot ``train_loss`` and (when present) ``val_loss`` per epoch.

    Missing, None or NaN validation values are simply not drawn. Without
    ``ax`` a ``path`` is required and the PNG path is returned.
    """
    if "train_loss" not in history:
        raise ValueError(f"history needs a 'train_loss' list; got keys {sorted(history)}")
    if ax is None and path is None:
        raise ValueError("plot_loss_curves needs a path to write the PNG to (or an ax to draw into)")
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(6, 4)).add_subplot()
    epochs, train = _finite_points(history["train_loss"])
    if not train:
        raise ValueError("history['train_loss'] has no finite values to plot")
    ax.plot(epochs, train, marker="o", markersize=3, label="train")
    val_epochs, val = _finite_points(history.get("val_loss"))
    if val:
        ax.plot(val_epochs, val, marker="o", markersize=3, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _save(ax, path)


def plot_piano_roll(
    tokens: Sequence[str],
    path: str | os.PathLike | None = None,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    title: str = "Melody",
    ax=None,
) -> Path | None:
    """Draw a melody as a piano roll: time in quarter notes across, MIDI pitch up.

    Rests leave gaps. Raises ValueError naming a malformed token.
    """
    if ax is None and path is None:
        raise ValueError("plot_piano_roll needs a path to write the PNG to (or an ax to draw into)")
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import MaxNLocator

    events = melody_events(tokens)
    if ax is None:
        total_steps = sum(length for _, length in events)
        width = min(16.0, max(6.0, total_steps / steps_per_quarter / 4))
        ax = Figure(figsize=(width, 4)).add_subplot()
    step = 0
    pitches = []
    for pitch, length in events:
        if pitch is not None:
            start = step / steps_per_quarter
            ax.add_patch(
                Rectangle(
                    (start, pitch - 0.4),
                    length / steps_per_quarter,
                    0.8,
                    facecolor="tab:blue",
                    edgecolor="black",
                    linewidth=0.5,
                )
            )
            pitches.append(pitch)
        step += length
    ax.set_xlim(0, max(step, 1) / steps_per_quarter)
    low, high = (min(pitches), max(pitches)) if pitches else (60, 72)
    ax.set_ylim(low - 1.5, high + 1.5)
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("MIDI pitch")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # pitches are whole numbers
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(ax, path)


def plot_melody_histograms(
    melodies: Sequence[Sequence[str]],
    reference: Sequence[Sequence[str]],
    path: str | os.PathLike,
    *,
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER,
    reference_steps_per_quarter: int | None = None,
    labels: tuple[str, str] = ("generated", "reference"),
) -> Path:
    """Pitch-class, interval and duration histograms of two sets of melodies side by side (shares of notes)."""
    from matplotlib.figure import Figure

    ours = histograms(melodies, steps_per_quarter)
    theirs = histograms(reference, reference_steps_per_quarter or steps_per_quarter)
    figure = Figure(figsize=(15, 4))
    axes = figure.subplots(1, 3)
    for ax, name in zip(axes, HISTOGRAMS, strict=True):
        keys = sorted(set(ours[name]) | set(theirs[name]))
        if name == "interval":
            keys = [k for k in keys if -12 <= k <= 12]  # wider leaps are rare; they still count in the divergence
        if name == "duration":
            common = sorted(keys, key=lambda k: -(ours[name][k] + theirs[name][k]))[:12]
            keys = sorted(common)
        positions = range(len(keys))
        for offset, counts, label in ((-0.2, ours[name], labels[0]), (0.2, theirs[name], labels[1])):
            total = sum(counts.values()) or 1
            ax.bar([p + offset for p in positions], [counts[k] / total for k in keys], width=0.4, label=label)
        ax.set_xticks(list(positions))
        ax.set_xticklabels([str(k) for k in keys], rotation=90 if name == "duration" else 0, fontsize=7)
        ax.set_title(
            {"pitch_class": "pitch class (0 = C)", "interval": "interval (semitones)"}.get(
                name, "duration (quarter notes, 12 commonest)"
            )
        )
        ax.set_ylabel("share of notes")
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend()
    return _save(axes[0], path)
