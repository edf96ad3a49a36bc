"""Execute the notebooks with small settings and check what they write.

notebooks/melody_lstm.ipynb trains, plots and samples; notebooks/continue_in_pytorch.ipynb
moves a model to PyTorch and back (it needs torch: skipped without it, except in CI).
The notebooks read their sizes from LSTMININET_NB_* environment variables; the
kernel inherits this process's environment, so monkeypatch.setenv reaches it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import wave
from pathlib import Path

import pytest

from ci_env import in_ci

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the 'test' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the 'test' extra (nbclient)")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "melody_lstm.ipynb"
TORCH_NOTEBOOK = REPO / "notebooks" / "continue_in_pytorch.ipynb"
MELODY_TXT = REPO / "data" / "Melody.txt"


def run_notebook(path: Path, settings: dict, tmp_path: Path, monkeypatch) -> str:
    """Execute a notebook in tmp_path with LSTMININET_NB_* settings; returns everything it printed."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return "".join(o.get("text", "") for o in outputs if o.output_type == "stream")


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    # Outputs (plots, training logs) would bloat every diff; they are cleared before committing.
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, f"cell {index} has outputs"


def test_notebook_trains_generates_and_writes_midi(tmp_path, monkeypatch):
    pytest.importorskip("ipykernel", reason="the notebook test needs the 'test' extra (ipykernel)")
    settings = {
        "LSTMININET_NB_EPOCHS": "2",
        "LSTMININET_NB_HIDDEN": "32",
        "LSTMININET_NB_MAX_MELODIES": "200",
        "LSTMININET_NB_GEN_LENGTH": "96",
        "LSTMININET_NB_DATA": str(MELODY_TXT),
        "LSTMININET_NB_OUTPUT": "out",  # relative: lands in the kernel's working dir, tmp_path
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    printed = run_notebook(NOTEBOOK, settings, tmp_path, monkeypatch)
    assert "epochs 2, hidden 32, melodies 200" in printed
    assert "epoch  2: train loss" in printed

    out = tmp_path / "out"
    for png in ("loss.png", "piano_roll.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert (out / "melody.lmn").is_file()
    assert (out / "melody.musicxml").is_file()
    assert re.search(r"\d+\.\d s at 120 quarter notes per minute; wrote out/melody.wav", printed)
    with wave.open(str(out / "melody.wav"), "rb") as played:
        assert (played.getnchannels(), played.getsampwidth(), played.getframerate()) == (1, 2, 44100)
        assert played.getnframes() > 0

    from music21 import converter

    score = converter.parse(str(out / "melody.mid"))
    assert len(score.flatten().notes) >= 1


def test_torch_notebook_moves_the_model_and_back(tmp_path, monkeypatch):
    pytest.importorskip("ipykernel", reason="the notebook test needs the 'test' extra (ipykernel)")
    if importlib.util.find_spec("torch") is None:
        if in_ci():
            pytest.fail("CI is set but torch is not installed; the PyTorch notebook must run in CI")
        pytest.skip("the PyTorch notebook needs the 'torch' extra")
    settings = {
        "LSTMININET_NB_EPOCHS": "1",
        "LSTMININET_NB_HIDDEN": "32",
        "LSTMININET_NB_MAX_MELODIES": "100",
        "LSTMININET_NB_TORCH_STEPS": "10",
        "LSTMININET_NB_GEN_LENGTH": "96",
        "LSTMININET_NB_DATA": str(MELODY_TXT),
        "LSTMININET_NB_OUTPUT": "out",
    }
    printed = run_notebook(TORCH_NOTEBOOK, settings, tmp_path, monkeypatch)
    assert "epochs 1, hidden 32, melodies 100, torch steps 10" in printed
    difference = float(re.search(r"largest logit difference on \(\d+, 48\): (\S+)", printed).group(1))
    assert difference <= 1e-5
    assert "torch step  10: loss" in printed
    assert re.search(r"held-out loss after PyTorch: \d+\.\d+", printed)

    from music21 import converter

    score = converter.parse(str(tmp_path / "out" / "continued.mid"))
    assert len(score.flatten().notes) >= 1


NOTE_VECTORS = REPO / "notebooks" / "note_vectors.ipynb"


def test_note_vector_notebook_shows_the_regressor_collapsing(tmp_path, monkeypatch):
    pytest.importorskip("ipykernel", reason="the notebook test needs the 'test' extra (ipykernel)")
    settings = {
        "LSTMININET_NB_EPOCHS": "2",
        "LSTMININET_NB_HIDDEN": "16",
        "LSTMININET_NB_MAX_MELODIES": "100",
        "LSTMININET_NB_GEN_NOTES": "48",
        "LSTMININET_NB_DATA": str(MELODY_TXT),
        "LSTMININET_NB_OUTPUT": "out",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    printed = run_notebook(NOTE_VECTORS, settings, tmp_path, monkeypatch)
    assert "epochs 2, hidden 16, melodies 100, notes 48, seed 0" in printed
    number = r"(\d+\.\d+)"
    baseline = rf"\(average-note baseline: pitch {number}"
    rmse = re.search(rf"per-note RMSE: pitch {number}, duration {number} {baseline}", printed)
    assert rmse and float(rmse.group(1)) < float(rmse.group(3))  # it learnt something
    spread = re.search(rf"regressor sd {number} vs true sd {number}", printed)
    assert float(spread.group(1)) < float(spread.group(2))  # predictions hedge between notes
    sd = re.search(rf"pitch sd within tunes: corpus {number}, regressor {number}, token model {number}", printed)
    corpus, regressor, tokens = (float(sd.group(i)) for i in (1, 2, 3))
    assert regressor < corpus / 2 and tokens > corpus / 2  # the regressor collapses, the token model does not
    last = [float(p) for p in re.search(r"last 8 composed pitches: ([\d. ]+)", printed).group(1).split()]
    assert max(last) - min(last) < 0.5  # a fixed point: one repeated pitch
    assert (tmp_path / "out" / "note_vectors_piano_roll.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
