"""Plots write real PNG files and accept gaps in the validation curve."""

import math

import pytest

from lstmininet.plots import plot_loss_curves, plot_piano_roll

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


@pytest.mark.parametrize(
    "history",
    [
        {"train_loss": [3.2, 2.5, 2.1], "val_loss": [3.3, 2.7, 2.4]},
        {"train_loss": [3.2, 2.5, 2.1]},
        {"train_loss": [3.2, 2.5, 2.1], "val_loss": None},
        {"train_loss": [3.2, 2.5, 2.1], "val_loss": [math.nan, 2.7, None]},
    ],
)
def test_loss_curves_write_png(tmp_path, history):
    path = plot_loss_curves(history, tmp_path / "plots" / "loss.png")
    assert path == tmp_path / "plots" / "loss.png"
    assert _is_png(path)


def test_loss_curves_need_train_loss(tmp_path):
    with pytest.raises(ValueError, match="'train_loss'"):
        plot_loss_curves({"val_loss": [1.0]}, tmp_path / "loss.png")


def test_loss_curves_draw_into_given_axes(tmp_path):
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    assert plot_loss_curves({"train_loss": [2.0, 1.0], "val_loss": [2.5, 1.5]}, ax=ax) is None
    assert len(ax.lines) == 2


def test_piano_roll_writes_png_with_one_box_per_note(tmp_path):
    from matplotlib.figure import Figure

    tokens = "60 _ _ _ 62 _ r _ 64 _ _ _ _ _ _ _".split()
    assert _is_png(plot_piano_roll(tokens, tmp_path / "roll.png"))
    ax = Figure().add_subplot()
    plot_piano_roll(tokens, ax=ax, steps_per_quarter=4)
    assert len(ax.patches) == 3
    assert ax.get_xlim() == (0.0, 4.0)  # 16 sixteenths = 4 quarter notes


def test_piano_roll_rejects_bad_tokens(tmp_path):
    with pytest.raises(ValueError, match=r"token 1 '_'"):
        plot_piano_roll(["_", "60"], tmp_path / "roll.png")
