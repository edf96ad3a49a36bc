"""Execute notebooks/melody_lstm.ipynb with small settings and check what it writes.

The notebook reads its sizes from LSTMININET_NB_* environment variables; the
kernel inherits this process's environment, so monkeypatch.setenv reaches it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs the 'test' extra (nbformat)")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs the 'test' extra (nbclient)")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "melody_lstm.ipynb"
MELODY_TXT = REPO / "data" / "Melody.txt"


def test_notebook_is_stored_without_outputs():
    # Outputs (plots, training logs) would bloat every diff; they are cleared before committing.
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
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
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the cell if any cell fails

    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = "".join(
        o.get("text", "")
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
    )
    assert "epochs 2, hidden 32, melodies 200" in printed
    assert "epoch  2: train loss" in printed

    out = tmp_path / "out"
    for png in ("loss.png", "piano_roll.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert (out / "melody.lmn").is_file()
    assert (out / "melody.musicxml").is_file()

    from music21 import converter

    score = converter.parse(str(out / "melody.mid"))
    assert len(score.flatten().notes) >= 1
