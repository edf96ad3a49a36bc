"""What a new user tripped over on first use of the command line (issue 12), one test each."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import lstmininet
import lstmininet.cli
from lstmininet.cli import _cut_greedy_loop, main
from lstmininet.duration_tokens import is_duration_token
from lstmininet.model import _ProgressBar
from lstmininet.repetition import endless_loop
from lstmininet.tokenizers import MelodyTokenizer

TUNES = [
    "67 _ _ _ 69 _ 71 _ 72 _ _ _ 71 _ 69 _ 67 _ _ _ r _ 64 _ 62 _ _ _ 60 _ _ _",
    "60 _ 62 _ 64 _ 65 _ 67 _ _ _ 67 _ _ _ 69 _ 69 _ 67 _ _ _ 65 _ 64 _ 62 _ 60 _ _ _",
    "72 _ 71 _ 69 _ 67 _ 65 _ 64 _ 62 _ 60 _ r _ _ _ 60 _ 64 _ 67 _ 72 _ _ _ _ _ _ _",
    "64 _ 64 _ 65 _ 67 _ 67 _ 65 _ 64 _ 62 _ 60 _ 60 _ 62 _ 64 _ 64 _ _ 62 62 _ _ _",
    "69 _ _ 71 72 _ 74 _ 76 _ _ _ 74 _ 72 _ 71 _ 69 _ _ _ r _ _ _ 69 _ 67 _ 69 _ _ _",
]
SMALL = ["--hidden", "16", "--quiet"]
REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, lines) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("first_use")
    data = write(folder / "Melody.txt", TUNES)
    model = folder / "tiny.lmn"
    assert main(["train", str(data), "--out", str(model), "--epochs", "2", *SMALL]) == 0
    return model, data


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("first_use_text")
    text = folder / "text.txt"
    text.write_text("the cat sat on the mat.\nthe dog sat on the log.\n" * 30, encoding="utf-8")
    model = folder / "chars.lmn"
    assert main(["train", str(text), "--text", "--out", str(model), "--seq-len", "16", "--epochs", "2", *SMALL]) == 0
    return model, text


def test_a_primer_that_starts_with_the_start_token_gets_it_once(trained, capsys):
    model, _ = trained
    plain = run(capsys, "generate", model, "--primer", "60 _ 62 _", "--seed", "4", "--length", "40")
    marked = run(capsys, "generate", model, "--primer", "<s> 60 _ 62 _", "--seed", "4", "--length", "40")
    assert plain[0] == marked[0] == 0, (plain, marked)
    assert marked[1] == plain[1]
    assert marked[1].splitlines()[1].split()[:4] == ["60", "_", "62", "_"]  # after the grid line


def test_a_text_model_generates_without_a_primer(text_model, capsys):
    model, text = text_model
    code, out, err = run(capsys, "generate", model, "--length", "25", "--seed", "1")
    assert code == 0, err
    sample = out[:-1]  # print() adds one newline
    assert len(sample) == 25
    assert set(sample) <= set(text.read_text())
    assert "no --primer" in err


def test_info_on_a_text_model_prints_one_line_per_field(text_model, capsys):
    model, _ = text_model
    code, out, err = run(capsys, "info", model)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["file", "cell", "input", "vocabulary", "parameters", "trained"]
    assert "'\\n'" in out  # the newline character shown escaped, in quotes


def test_evaluate_says_when_the_data_trained_the_model(trained, tmp_path, capsys):
    model, data = trained
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert code == 0, err
    assert re.search(r"4 of 5 sequences trained this model \(1 were in its validation split\)", err), err
    assert "not a held-out score" in err
    assert "loss" in out


def test_evaluate_names_the_validation_tune_and_new_tunes(trained, tmp_path, capsys):
    model, _ = trained
    verdicts = []
    for index, tune in enumerate(TUNES):
        code, out, err = run(capsys, "evaluate", model, write(tmp_path / f"one{index}.txt", [tune]), "--quiet")
        assert code == 0, err
        verdicts.append(err)
    assert sum("validation split (held out" in v for v in verdicts) == 1, verdicts
    assert sum("1 of 1 sequences trained this model" in v for v in verdicts) == 4, verdicts
    new = write(tmp_path / "new.txt", ["60 _ 62 _ 64 _ 65 _ 67 _ _ _"])
    code, out, err = run(capsys, "evaluate", model, new, "--quiet")
    assert code == 0 and "none of the 1 sequences trained this model or were in its validation split" in err


def test_evaluate_without_a_training_record_says_it_cannot_tell(trained, tmp_path, capsys):
    model, data = trained
    copy = tmp_path / "copied.lmn"
    shutil.copy(model, copy)
    code, out, err = run(capsys, "evaluate", copy, data, "--quiet")
    assert code == 0, err
    assert "copied.data.json" in err and "cannot tell" in err


def test_training_into_a_pipe_writes_one_line_per_epoch(tmp_path, capsys):
    # capsys stands in for a pipe: stderr is not a terminal.
    data = write(tmp_path / "Melody.txt", TUNES * 20)
    model = tmp_path / "m.lmn"
    code, out, err = run(capsys, "train", data, "--out", model, "--epochs", "3", "--batch-size", "2", "--hidden", "8")
    assert code == 0, err
    lines = err.replace("\r", "\n").splitlines()
    assert len(lines) < 10, err  # 45 batches per epoch: a redrawn bar would leave well over 100
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1", "epoch 2", "epoch 3"]


def test_the_progress_bar_on_a_terminal_restarts_every_epoch(capsys):
    bar = _ProgressBar(epochs=2, first_epoch=0, interactive=True)
    for epoch in (1, 2):
        for batch in range(1, 6):
            bar(epoch, batch, 5, 1.0, 100.0)
        bar.epoch_done({"epoch": epoch, "train_loss": 1.0, "val_loss": float("nan")})
    bar.close()
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert "5/5" in err
    assert "/10" not in err  # no bar over both epochs' batches


def test_train_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    options = " ".join(capsys.readouterr().out.split("options:", 1)[1].split())
    for option, default in (
        ("--epochs EPOCHS", "50"),
        ("--patience PATIENCE", "3"),
        ("--lr LR", "0.003"),
        ("--hidden HIDDEN", "128"),
    ):
        described = options.split(f"{option} ", 1)[1].split(" --", 1)[0]  # up to the next option
        assert f"default: {default}" in described, (option, options)


def test_count_says_which_numbered_files_it_writes(trained, tmp_path, capsys):
    model, _ = trained
    code, out, err = run(
        capsys, "generate", model, "--count", "3", "--seed", "0", "--primer", "60 _", "--midi", tmp_path / "tune.mid"
    )
    assert code == 0, err
    first = err.splitlines()[0]
    assert "tune_1.mid" in first and "tune_3.mid" in first and "numbered" in first
    assert sorted(p.name for p in tmp_path.glob("*.mid")) == ["tune_1.mid", "tune_2.mid", "tune_3.mid"]


def test_count_with_empty_samples_says_which_files_are_missing_and_why(trained, tmp_path, capsys, monkeypatch):
    # Sampled tokens fixed here: one song ended by the model, one tune, one of length tokens alone.
    model = lstmininet.load(trained[0])
    tok = model.tokenizer
    length = next(t for t in tok.vocab if is_duration_token(t))
    ended, tune, lengths = tok.encode(["</s>"]), tok.encode(["60", length, "</s>"]), tok.encode([length] * 5)
    samples = [ended, tune, lengths]
    monkeypatch.setattr(model, "generate", lambda *args, num_samples, **options: samples[:num_samples])
    monkeypatch.setattr(lstmininet.cli, "load", lambda path: model)

    code, out, err = run(capsys, "generate", "m.lmn", "--count", "3", "--midi", tmp_path / "tune.mid")
    assert code == 0, err
    assert len(out.splitlines()) == 2  # the grid line and one tune
    assert [p.name for p in tmp_path.glob("*.mid")] == ["tune_2.mid"]
    assert "melody 1: empty (the model ended the song before its first note)" in err
    assert "melody 3: empty (the model never ended the song, but none of its 5 tokens is a note or rest" in err
    announced = next(line for line in err.splitlines() if "numbered" in line)
    assert "tune_1.mid … tune_3.mid (none for empty melodies 1, 3)" in announced

    samples = [ended, lengths]  # no tune at all: an error, not success with nothing written
    code, out, err = run(capsys, "generate", "m.lmn", "--count", "2", "--midi", tmp_path / "none.mid")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == "lstmininet: error: m.lmn: no tune came out, all 2 samples were empty"
    assert not list(tmp_path.glob("none*"))


def test_endless_loop_finds_a_phrase_repeated_to_the_end():
    tune = list("abcdefg") + list("xyz") * 10
    assert endless_loop(tune) == (7, 3)
    assert endless_loop(list("ab") * 5 + list("cd")) is None  # the repeats stop before the end
    assert endless_loop(list("abcdefgh") + list("xyz") * 2) is None  # two plays are music, not a loop
    held = ["60"] + ["_"] * 10
    assert endless_loop(held) is None  # a held note of 11 steps is not a loop
    assert endless_loop(["60"] + ["_"] * 40) == (1, 1)


def test_greedy_sampling_is_cut_after_two_plays_of_the_looped_phrase(capsys):
    args = argparse.Namespace(temperature=0.0)
    primer = [0, 5]
    ids = [7, 8, 9] + [1, 2, 3, 4] * 12
    cut = _cut_greedy_loop(args, 0, primer, ids)
    assert cut == [7, 8, 9, 1, 2, 3, 4, 1, 2, 3, 4]
    assert "4-token phrase" in capsys.readouterr().err
    assert _cut_greedy_loop(argparse.Namespace(temperature=0.5), 0, primer, ids) == ids


def test_the_greedy_cut_keeps_the_length_of_the_note_it_falls_in(capsys):
    # The loop starts as early as it can, here on a length token, so two plays of it ended on a bare
    # pitch: the tune's last note lasted one step against six for the others.
    tokenizer = MelodyTokenizer(["<s>", "</s>", "69", "67", "d6"], add_bos_eos=True, encoding="duration")
    primer = tokenizer.encode(["<s>"])
    ids = tokenizer.encode(["69", "d6", "69", "d6"] + ["67", "d6"] * 40)
    cut = _cut_greedy_loop(argparse.Namespace(temperature=0.0), 0, primer, ids, tokenizer.continues_note)
    assert tokenizer.decode(cut) == ["69", "d6", "69", "d6", "67", "d6", "67", "d6"]
    grid = MelodyTokenizer(["<s>", "</s>", "67", "_"], add_bos_eos=True)
    ids = grid.encode(["67", "_", "_"] * 30)
    cut = _cut_greedy_loop(argparse.Namespace(temperature=0.0), 0, grid.encode(["<s>"]), ids, grid.continues_note)
    assert grid.decode(cut) == ["67", "_", "_"] * 2
    assert "phrase" in capsys.readouterr().err


def test_greedy_generation_from_the_cli_ends_without_a_loop(trained, capsys):
    model, _ = trained
    code, out, err = run(capsys, "generate", model, "--temperature", "0", "--length", "400", "--primer", "60 _")
    assert code == 0, err
    assert endless_loop(out.split()) is None


def test_outputs_of_the_readme_commands_are_not_left_untracked():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    names = ["melody.lmn", "melody.mid", "melody.loss.png", "melody.history.json", "melody.data.json", "m.musicxml"]
    done = subprocess.run(["git", "check-ignore", *names], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.split() == names
    kept = subprocess.run(["git", "check-ignore", "data/Melody.txt"], cwd=REPO, capture_output=True, text=True)
    assert kept.returncode == 1  # the data file stays tracked


def test_triplet_tunes_train_on_a_12_step_grid_and_come_back_exact(tmp_path, capsys):
    from music21 import converter

    # Two tunes with triplet eighths (4 steps of 12) and a dotted rhythm; the 1/16 grid cannot hold them.
    abc = tmp_path / "triplets.abc"
    abc.write_text(
        "X:1\nT:One\nM:6/8\nL:1/8\nK:D\n(3DEF G2 A | B3 A3 |]\n\n"
        "X:2\nT:Two\nM:4/4\nL:1/8\nK:G\nG2 (3ABc d4 | B6 G2 |]\n",
        encoding="utf-8",
    )
    model = tmp_path / "trip.lmn"
    code, out, err = run(capsys, "train", abc, "--out", model, "--epochs", "1", *SMALL)  # 12 per quarter: the default
    assert code == 0, err
    assert "2 sequences" in err
    code, out, err = run(capsys, "evaluate", model, abc, "--quiet")
    assert code == 0, err
    # A primer with a triplet, written to MIDI at the model's grid, reads back as the same durations.
    primer = "62 _ _ _ 64 _ _ _ 66 _ _ _ 67 _ _ _ _ _ _ _ _ _ _ _"
    code, out, err = run(
        capsys, "generate", model, "--primer", primer, "--length", "1", "--seed", "0", "--midi", tmp_path / "t.mid"
    )
    assert code == 0, err
    notes = converter.parse(str(tmp_path / "t.mid")).flatten().notes
    assert [float(n.quarterLength) for n in notes][:4] == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0])
    coarse = ["--out", tmp_path / "coarse.lmn", "--steps-per-quarter", "4", "--epochs", "1", "--hidden", "16"]
    code, out, err = run(capsys, "train", abc, *coarse)
    assert code == 0 and "2 songs loaded" in err and "songs quantized: 2" in err  # the 1/16 grid rounds triplets
    code, out, err = run(capsys, "train", abc, *coarse, "--off-grid", "skip", "--quiet")
    assert code == 2 and "no melodies left" in err and "off grid" in err  # or leaves their tunes out
    code, out, err = run(capsys, "evaluate", model, abc, "--steps-per-quarter", "4", "--quiet")
    assert code == 2 and "grid of 12 steps per quarter" in err
