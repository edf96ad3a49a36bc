"""The `lstmininet` command line, end to end on tiny data.

Commands run in-process through `lstmininet.cli.main(argv)` (fast, and
pytest captures their output); one test starts the installed console script
as a real subprocess.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import lstmininet
from ctrl_c import sigint_raises_keyboard_interrupt
from lstmininet.cli import main
from lstmininet.melody import melody_events

# Five short tunes on the sixteenth grid: notes, rests and holds.
TUNES = [
    "67 _ _ _ 69 _ 71 _ 72 _ _ _ 71 _ 69 _ 67 _ _ _ r _ 64 _ 62 _ _ _ 60 _ _ _",
    "60 _ 62 _ 64 _ 65 _ 67 _ _ _ 67 _ _ _ 69 _ 69 _ 67 _ _ _ 65 _ 64 _ 62 _ 60 _ _ _",
    "72 _ 71 _ 69 _ 67 _ 65 _ 64 _ 62 _ 60 _ r _ _ _ 60 _ 64 _ 67 _ 72 _ _ _ _ _ _ _",
    "64 _ 64 _ 65 _ 67 _ 67 _ 65 _ 64 _ 62 _ 60 _ 60 _ 62 _ 64 _ 64 _ _ 62 62 _ _ _",
    "69 _ _ 71 72 _ 74 _ 76 _ _ _ 74 _ 72 _ 71 _ 69 _ _ _ r _ _ _ 69 _ 67 _ 69 _ _ _",
]
TRAIN_FLAGS = ["--epochs", "2", "--hidden", "16", "--quiet"]
ERROR_PREFIX = "lstmininet: error:"


def run(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_melodies(path: Path, lines=TUNES) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def history(model_path: Path) -> dict:
    return json.loads(model_path.with_name(model_path.stem + ".history.json").read_text())


def melody_lines(out: str) -> list[str]:
    """The melodies generate printed: its output is a Melody.txt whose first line gives the grid."""
    lines = out.strip().splitlines()
    assert lines and lines[0].startswith("# lstmininet-melody: steps_per_quarter="), out
    return lines[1:]


def pitches_of_line(line: str) -> list[int]:
    """MIDI pitches of the notes in a printed melody (rests and holds dropped)."""
    return [int(t) for t in line.split() if t not in ("r", "_")]


def pitches_in_file(path: Path) -> list[int]:
    """MIDI pitches of the notes music21 reads from a file, ties merged back into one note."""
    from music21 import converter

    score = converter.parse(str(path)).stripTies()
    return [n.pitch.midi for n in score.flatten().notes]


@pytest.fixture(scope="module")
def melody_model(tmp_path_factory):
    """A small melody model trained once by `lstmininet train`, shared by the read-only tests."""
    folder = tmp_path_factory.mktemp("melody_model")
    data = write_melodies(folder / "Melody.txt")
    model = folder / "tiny.lmn"
    assert main(["train", str(data), "--out", str(model), *TRAIN_FLAGS]) == 0
    return model, data


# -- train ---------------------------------------------------------------------


def test_train_writes_model_history_and_loss_plot(tmp_path, capsys):
    data = write_melodies(tmp_path / "Melody.txt")
    model = tmp_path / "tune.lmn"
    code, out, err = run(capsys, "train", data, "--out", model, *TRAIN_FLAGS)
    assert code == 0, err
    assert model.is_file()
    assert (tmp_path / "tune.loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    past = history(model)
    assert past["epoch"] == [1, 2]
    assert len(past["train_loss"]) == 2 and all(math.isfinite(v) for v in past["train_loss"])
    assert f"{len(TUNES)} sequences" in err
    assert "after 2 epochs" in err
    assert "Traceback" not in err


def test_train_stops_when_validation_stops_improving_and_keeps_the_best_epoch(tmp_path, capsys):
    # Three training tunes, a high rate: the model overfits and the held-out loss turns up within a few epochs.
    data = write_melodies(tmp_path / "Melody.txt")
    model = tmp_path / "tune.lmn"
    flags = ["--hidden", "32", "--lr", "0.05", "--val-fraction", "0.4", "--patience", "2", "--quiet"]
    code, _, err = run(capsys, "train", data, "--out", model, *flags)
    assert code == 0, err
    past = history(model)
    val = past["val_loss"]
    best = min(range(len(val)), key=val.__getitem__)
    assert len(val) == best + 3 < 50, val  # two epochs after the best, far below the default cap of 50
    assert f"kept epoch {best + 1}'s weights, validation loss {val[best]:.4f}" in err
    # The file holds the best epoch's weights, not the last epoch's: it scores the held-out tunes as then.
    trained = lstmininet.load(model)
    tunes = [trained.tokenizer.encode_melody(line.split()) for line in TUNES]
    _, held_out, _ = lstmininet.datasets.split_dataset(tunes, val_fraction=0.4, seed=0)
    assert trained.evaluate(held_out, seq_len=64)["loss"] == pytest.approx(val[best], rel=1e-5)


def test_train_creates_the_output_folder(tmp_path, capsys):
    data = write_melodies(tmp_path / "Melody.txt")
    model = tmp_path / "runs" / "today" / "tune.lmn"
    code, _, err = run(capsys, "train", data, "--out", model, *TRAIN_FLAGS)
    assert code == 0, err
    assert model.is_file() and (model.parent / "tune.history.json").is_file()


# -- generate ------------------------------------------------------------------


def test_generate_files_hold_the_printed_notes(melody_model, tmp_path, capsys):
    model, _ = melody_model
    code, out, err = run(
        # the primer keeps each melody non-empty even if the model ends the song at once
        capsys,
        "generate",
        model,
        "--count",
        "2",
        "--seed",
        "1",
        "--length",
        "64",
        "--primer",
        "60 _ 62 _",
        "--midi",
        tmp_path / "tune.mid",
        "--musicxml",
        tmp_path / "tune.musicxml",
        "--piano-roll",
        tmp_path / "tune.png",
    )
    assert code == 0, err
    lines = melody_lines(out)
    assert len(lines) == 2, (out, err)
    for index, line in enumerate(lines, start=1):
        printed = pitches_of_line(line)
        assert printed, f"melody {index} has no notes: {line!r}"
        assert pitches_in_file(tmp_path / f"tune_{index}.mid") == printed
        assert pitches_in_file(tmp_path / f"tune_{index}.musicxml") == printed
        assert (tmp_path / f"tune_{index}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Numbered files only: --count 2 never writes the bare names.
    assert not (tmp_path / "tune.mid").exists()


def test_generate_single_midi_keeps_the_given_name(melody_model, tmp_path, capsys):
    model, _ = melody_model
    code, out, err = run(capsys, "generate", model, "--seed", "5", "--length", "48", "--midi", tmp_path / "one.mid")
    assert code == 0, err
    assert pitches_in_file(tmp_path / "one.mid") == pitches_of_line(melody_lines(out)[0])


def test_generate_is_reproducible_with_a_seed(melody_model, capsys):
    model, _ = melody_model
    first = run(capsys, "generate", model, "--seed", "11", "--length", "40")
    second = run(capsys, "generate", model, "--seed", "11", "--length", "40")
    assert first[0] == second[0] == 0
    assert first[1] == second[1] and first[1].strip()


def test_generate_count_is_one_batch_with_per_sample_seeds(melody_model, capsys):
    # --count N samples N melodies in one batched pass; melody k is what the
    # Python API draws alone with lstmininet.sample_seed(seed, k).
    path, _ = melody_model
    code, out, err = run(capsys, "generate", path, "--count", "3", "--seed", "4", "--length", "40")
    assert code == 0, err
    model = lstmininet.load(path)
    tokenizer = model.tokenizer
    primer = tokenizer.encode(["<s>"])
    stop = tokenizer.encode(["</s>"])[0]
    expected = []
    for k in range(3):
        ids = model.generate(primer, 40, seed=lstmininet.sample_seed(4, k), stop_token=stop)
        melody = tokenizer.decode_melody(primer + ids)
        if melody:
            expected.append(" ".join(melody))
    assert melody_lines(out) == expected


def test_generate_in_bfloat16(melody_model, capsys):
    model, _ = melody_model
    code, out, err = run(capsys, "generate", model, "--seed", "3", "--length", "40", "--precision", "bfloat16")
    assert code == 0, err
    assert out.split()


def test_generate_continues_a_primer(melody_model, capsys):
    model, _ = melody_model
    code, out, err = run(capsys, "generate", model, "--primer", "60 _ _ _ 62 _", "--seed", "2", "--length", "16")
    assert code == 0, err
    assert melody_lines(out)[0].split()[:6] == ["60", "_", "_", "_", "62", "_"]


def test_generate_never_fails_on_a_sampled_opening_hold(melody_model, tmp_path, capsys):
    # A barely trained model sometimes samples '_' right after <s>; 40 samples hit that case.
    model, _ = melody_model
    code, out, err = run(
        capsys, "generate", model, "--count", "40", "--seed", "0", "--length", "32", "--midi", tmp_path / "many.mid"
    )
    assert code == 0, err


# -- evaluate and info -----------------------------------------------------------


def test_evaluate_prints_loss_perplexity_accuracy(melody_model, capsys):
    model, data = melody_model
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert code == 0, err
    match = re.search(r"loss (\d+\.\d+)\s+perplexity (\d+\.\d+)\s+accuracy (\d+\.\d+)\s+\(([\d,]+) tokens\)", out)
    assert match, out
    loss, perplexity, accuracy = (float(match.group(i)) for i in (1, 2, 3))
    assert perplexity == pytest.approx(math.exp(loss), rel=2e-3)
    assert 0.0 <= accuracy <= 1.0
    # Every token but the first of each song is predicted (<s> ... </s> wrap each tune): a pitch or r and a length
    # per note or rest, and </s>.
    assert int(match.group(4).replace(",", "")) == sum(2 * len(melody_events(t.split())) + 1 for t in TUNES)


def test_info_describes_the_model(melody_model, capsys):
    model, _ = melody_model
    code, out, err = run(capsys, "info", model)
    assert code == 0, err
    loaded = lstmininet.load(model)
    assert re.search(r"cell\s+lstm, 1 layer\(s\), hidden 16", out)
    assert re.search(r"input\s+one-hot, dropout 0", out)
    assert re.search(rf"vocabulary\s+{len(loaded.tokenizer)} tokens \(melody: <s> </s> r 60", out)
    params = sum(v.size for v in loaded.state_dict().values())
    assert re.search(rf"parameters\s+{params:,}", out)
    assert re.search(r"trained\s+2 epochs", out)


# -- resume ----------------------------------------------------------------------


def test_resume_continues_the_epochs(melody_model, tmp_path, capsys):
    source, data = melody_model
    model = tmp_path / "tiny.lmn"
    shutil.copy(source, model)
    shutil.copy(source.with_name("tiny.history.json"), tmp_path / "tiny.history.json")
    before = history(model)

    code, out, err = run(capsys, "train", data, "--out", model, "--resume", "--epochs", "2", "--quiet")
    assert code == 0, err
    after = history(model)
    assert after["epoch"] == [1, 2, 3, 4]
    assert after["train_loss"][:2] == before["train_loss"]
    assert "after 4 epochs" in err
    assert (tmp_path / "tiny.loss.png").is_file()

    code, out, _ = run(capsys, "info", model)
    assert code == 0
    assert re.search(r"trained\s+4 epochs", out)


def test_ctrl_c_while_an_epoch_is_saved_keeps_its_history_row(melody_model, tmp_path, capsys, monkeypatch):
    source, data = melody_model
    model = tmp_path / "tiny.lmn"
    shutil.copy(source, model)
    shutil.copy(source.with_name("tiny.history.json"), tmp_path / "tiny.history.json")
    saves = 0
    save = lstmininet.model._RecurrentModel.save

    def ctrl_c_in_the_first_save(self, path):
        nonlocal saves
        saves += 1
        save(self, path)
        if saves == 1:  # Ctrl-C lands while epoch 3's checkpoint is written, after the file is in place
            raise KeyboardInterrupt

    monkeypatch.setattr(lstmininet.model._RecurrentModel, "save", ctrl_c_in_the_first_save)
    code, out, err = run(capsys, "train", data, "--out", model, "--resume", "--epochs", "2", "--quiet")
    assert code == 130, err
    assert history(model)["epoch"] == [1, 2, 3]  # epoch 3 counted in the model and in its history
    assert lstmininet.load(model).epochs_done == 3


def test_train_encoding_option_and_resume_keeps_the_models(melody_model, tmp_path, capsys):
    source, data = melody_model
    assert lstmininet.load(source).tokenizer.encoding == "duration"  # the default
    model = tmp_path / "tiny.lmn"
    shutil.copy(source, model)
    code, out, err = run(capsys, "train", data, "--out", model, "--resume", "--encoding", "grid", "--quiet")
    assert_one_line_error(code, out, err, "--encoding grid", "trained on duration tokens")
    grid = tmp_path / "grid.lmn"
    assert run(capsys, "train", data, "--out", grid, "--encoding", "grid", *TRAIN_FLAGS)[0] == 0
    assert "_" in lstmininet.load(grid).tokenizer and lstmininet.load(grid).tokenizer.encoding == "grid"


# -- plain text ------------------------------------------------------------------


def test_text_model_trains_and_continues_a_primer(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("the cat sat on the mat. the dog sat on the log.\n" * 40, encoding="utf-8")
    model = tmp_path / "chars.lmn"
    code, out, err = run(capsys, "train", text, "--text", "--out", model, "--seq-len", "16", *TRAIN_FLAGS)
    assert code == 0, err

    code, out, err = run(capsys, "generate", model, "--primer", "the ", "--length", "30", "--seed", "3")
    assert code == 0, err
    sample = out[:-1] if out.endswith("\n") else out  # print() adds one newline
    assert sample.startswith("the ")
    assert len(sample) == len("the ") + 30
    assert set(sample) <= set(text.read_text())

    code, out, _ = run(capsys, "info", model)
    assert re.search(r"vocabulary\s+\d+ tokens \(char:", out)

    code, out, err = run(capsys, "evaluate", model, text)
    assert code == 0, err
    assert "perplexity" in out


def test_text_model_refuses_midi(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("abcabcabc abc\n" * 20, encoding="utf-8")
    model = tmp_path / "chars.lmn"
    assert run(capsys, "train", text, "--text", "--out", model, "--seq-len", "8", *TRAIN_FLAGS)[0] == 0
    code, out, err = run(capsys, "generate", model, "--primer", "ab", "--midi", tmp_path / "x.mid")
    assert code == 2
    assert err.startswith(ERROR_PREFIX) and "melody model" in err
    assert not (tmp_path / "x.mid").exists()


# -- errors: one line, exit status 2 ------------------------------------------------


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(ERROR_PREFIX), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_error_missing_data_file(tmp_path, capsys):
    missing = tmp_path / "no_such_melodies.txt"
    code, out, err = run(capsys, "train", missing, "--out", tmp_path / "m.lmn", *TRAIN_FLAGS)
    assert_one_line_error(code, out, err, "no_such_melodies.txt")
    assert not (tmp_path / "m.lmn").exists()


@pytest.mark.parametrize("command", ["generate", "info", "evaluate"])
def test_error_missing_model(command, tmp_path, capsys):
    data = write_melodies(tmp_path / "Melody.txt")
    argv = [command, tmp_path / "absent.lmn"] + ([data] if command == "evaluate" else [])
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, out, err, "absent.lmn")


def test_error_unknown_token_names_file_line_and_token(tmp_path, capsys):
    data = write_melodies(tmp_path / "Melody.txt", [TUNES[0], TUNES[1], "60 _ 62 x9 _ 64", TUNES[2]])
    code, out, err = run(capsys, "train", data, "--out", tmp_path / "m.lmn", *TRAIN_FLAGS)
    assert_one_line_error(code, out, err, "Melody.txt", "line 3", "'x9'")
    assert not (tmp_path / "m.lmn").exists()


def test_error_resume_without_a_model(tmp_path, capsys):
    data = write_melodies(tmp_path / "Melody.txt")
    code, out, err = run(capsys, "train", data, "--out", tmp_path / "fresh.lmn", "--resume", *TRAIN_FLAGS)
    assert_one_line_error(code, out, err, "--resume", "fresh.lmn")
    assert not (tmp_path / "fresh.lmn").exists()


def test_error_model_without_tokenizer(tmp_path, capsys):
    path = tmp_path / "bare.lmn"
    lstmininet.LSTM(6, hidden_size=4, seed=0).save(path)
    code, out, err = run(capsys, "generate", path, "--primer", "60")
    assert_one_line_error(code, out, err, "bare.lmn", "tokenizer")


def test_evaluate_moves_unknown_pitches_into_the_vocabulary(melody_model, tmp_path, capsys):
    model, _ = melody_model
    # 48 50 52 are an octave below pitches the model knows (60 62 64); 90 (F#) has no pitch class in it: nearest is 76.
    data = write_melodies(tmp_path / "other.txt", ["48 _ 50 _ 52 _ _ _", "60 _ 90 _ 64 _"])
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert code == 0, err
    assert "1 of 2 tunes moved by octaves" in err and "1 notes in 1 tunes moved to the nearest pitch" in err
    by_hand = write_melodies(tmp_path / "moved.txt", ["60 _ 62 _ 64 _ _ _", "60 _ 76 _ 64 _"])
    code, expected, err = run(capsys, "evaluate", model, by_hand, "--quiet")
    assert code == 0, err
    assert out == expected


def test_evaluate_skips_tunes_the_vocabulary_cannot_hold_and_counts_them(original_melody_txt, tmp_path, capsys):
    model = tmp_path / "pitches_only.lmn"
    flags = ["--epochs", "1", "--hidden", "8", "--quiet"]
    assert run(capsys, "train", original_melody_txt, "--out", model, *flags)[0] == 0
    data = write_melodies(tmp_path / "mixed.txt", ["60 62 64 65", TUNES[0], "67 65 64 62"])
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert code == 0, err
    # Bare pitches train one-step notes (d1): holds are chains of d1, rests are unknown.
    assert "1 of 3 tunes skipped" in err and "no rests" in err
    assert "(18 tokens)" in out  # two tunes of 4 notes (pitch, d1) inside <s> ... </s>: 9 predictions each


def test_error_evaluate_when_no_tune_can_be_encoded(original_melody_txt, tmp_path, capsys):
    model = tmp_path / "pitches_only.lmn"
    flags = ["--epochs", "1", "--hidden", "8", "--quiet"]
    assert run(capsys, "train", original_melody_txt, "--out", model, *flags)[0] == 0
    data = write_melodies(tmp_path / "held.txt", [TUNES[0]])
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert_one_line_error(code, out, err, "held.txt", "no tune can be encoded", "no rests")
    # The grid encoding of earlier versions has no holds either.
    grid_model = tmp_path / "grid.lmn"
    assert run(capsys, "train", original_melody_txt, "--out", grid_model, "--encoding", "grid", *flags)[0] == 0
    data = write_melodies(tmp_path / "held.txt", ["60 _ 62"])
    code, out, err = run(capsys, "evaluate", grid_model, data, "--quiet")
    assert_one_line_error(code, out, err, "held.txt", "no tune can be encoded", "held notes")


def test_primer_with_an_unknown_pitch_is_moved_by_octaves(melody_model, capsys):
    model, _ = melody_model
    code, out, err = run(capsys, "generate", model, "--primer", "48 _ 50 _", "--seed", "2", "--length", "16")
    assert code == 0, err
    assert melody_lines(out)[0].split()[:4] == ["60", "_", "62", "_"]
    assert "moved by octaves" in err


# -- compatibility with the original LSTMiniNet data ----------------------------------


def test_original_melody_txt_trains_unchanged(original_melody_txt, tmp_path, capsys):
    raw = original_melody_txt.read_bytes()
    assert b"\r\n" in raw  # the file as published, CRLF endings and bare pitches
    songs = sum(1 for line in raw.decode("utf-8-sig").splitlines() if line.strip())
    model = tmp_path / "original.lmn"
    code, out, err = run(
        capsys, "train", original_melody_txt, "--out", model, "--epochs", "1", "--hidden", "16", "--quiet"
    )
    assert code == 0, err
    assert f"{songs} sequences" in err
    assert history(model)["epoch"] == [1]
    assert original_melody_txt.read_bytes() == raw  # read, never rewritten

    code, out, err = run(capsys, "generate", model, "--seed", "0", "--length", "32")
    assert code == 0, err
    # Bare pitches in, one-step notes out: the vocabulary has no rests, and its only length is d1.
    pitches = sorted({int(t) for t in raw.decode().split()})
    assert lstmininet.load(model).tokenizer.vocab == ["<s>", "</s>", *map(str, pitches), "d1"]
    assert melody_lines(out) and all(t.isdigit() or t == "_" for t in " ".join(melody_lines(out)).split())


# -- argument parsing and the installed entry point -------------------------------------


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "generate", "evaluate", "info"):
        assert command in out


def test_help_shows_defaults_of_zero(capsys):
    # 0 == False, so the defaults of --seed (0) and --weight-decay (0.0) were taken for switches and not shown.
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED default: 0 " in out and "--weight-decay WEIGHT_DECAY default: 0.0 " in out


def test_bad_option_value_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(tmp_path / "x.txt"), "--out", str(tmp_path / "m.lmn"), "--epochs", "0"])
    assert stop.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_console_script_version():
    name = "lstmininet.exe" if sys.platform == "win32" else "lstmininet"
    script = Path(sysconfig.get_path("scripts")) / name
    if not script.exists():
        found = shutil.which("lstmininet")
        if found is None:
            pytest.skip("the lstmininet console script is not installed")
        script = Path(found)
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"lstmininet {lstmininet.__version__}"


# -- the files beside a model stay true to it (audit) ----------------------------------------


def side_files(model: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(model.parent.iterdir()) if p.name.startswith(model.stem)}


def test_a_run_refused_before_training_leaves_the_model_s_files_as_they_were(tmp_path, capsys):
    # The data record used to be written before fit checked its options.
    model = tmp_path / "m.lmn"
    assert run(capsys, "train", write_melodies(tmp_path / "a.txt"), "--out", model, *TRAIN_FLAGS)[0] == 0
    before = side_files(model)
    other = write_melodies(tmp_path / "b.txt", TUNES[:4])
    for bad in (["--lr", "-1"], ["--weight-decay", "-1"], ["--lr", "1e39"]):
        code, _, err = run(capsys, "train", other, "--out", model, *TRAIN_FLAGS, *bad)
        assert code == 2 and ERROR_PREFIX in err
        assert side_files(model) == before


def test_the_history_holds_every_epoch_the_model_did(tmp_path, capsys, monkeypatch):
    # Ctrl-C as epoch 2 ended, before on_epoch ran: the model counted it, the history never got its row.
    import os
    import signal

    report = lstmininet.model._ProgressBar.epoch_done

    def ctrl_c_at_epoch_2(bar, row):
        if row["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return report(bar, row)

    monkeypatch.setattr(lstmininet.model._ProgressBar, "epoch_done", ctrl_c_at_epoch_2)
    model, data = tmp_path / "m.lmn", write_melodies(tmp_path / "a.txt")
    with sigint_raises_keyboard_interrupt():
        run(capsys, "train", data, "--out", model, "--epochs", "3", "--hidden", "8")
    assert lstmininet.load(model).epochs_done == 2 and history(model)["epoch"] == [1, 2]
    monkeypatch.undo()
    assert run(capsys, "train", data, "--out", model, "--epochs", "1", "--hidden", "8", "--quiet", "--resume")[0] == 0
    assert history(model)["epoch"] == [1, 2, 3]


def test_a_new_run_over_a_model_replaces_its_history_and_plot(tmp_path, capsys, monkeypatch):
    # Stopped before its first epoch ended, the new model kept the old run's history and loss plot beside it.
    model = tmp_path / "m.lmn"
    assert run(capsys, "train", write_melodies(tmp_path / "a.txt"), "--out", model, *TRAIN_FLAGS)[0] == 0
    assert history(model)["epoch"] == [1, 2] and (tmp_path / "m.loss.png").exists()
    monkeypatch.setattr(lstmininet.model._ProgressBar, "__call__", lambda *_: False)  # a batch's report stops fit
    code, _, err = run(capsys, "train", write_melodies(tmp_path / "b.txt", TUNES[:4]), "--out", model, "--epochs", "2")
    assert lstmininet.load(model).epochs_done == 0, err
    assert history(model)["epoch"] == [] and not (tmp_path / "m.loss.png").exists()


def test_history_json_is_strict_json_without_validation(tmp_path, capsys):
    model = tmp_path / "m.lmn"
    data = write_melodies(tmp_path / "a.txt")
    assert run(capsys, "train", data, "--out", model, *TRAIN_FLAGS, "--val-fraction", "0")[0] == 0

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    assert json.loads(model.with_name("m.history.json").read_text(), parse_constant=refuse)["val_loss"] == [None, None]


def test_a_damaged_data_record_is_a_note_not_an_error(tmp_path, capsys):
    # A Ctrl-C mid-write left an empty record (it was not written atomically), which blocked --resume and evaluate.
    model, data = tmp_path / "m.lmn", write_melodies(tmp_path / "a.txt")
    assert run(capsys, "train", data, "--out", model, *TRAIN_FLAGS)[0] == 0
    model.with_name("m.data.json").write_text("")
    code, _, err = run(capsys, "evaluate", model, data)
    assert code == 0 and "not a training record" in err and "cannot tell whether" in err
    code, _, err = run(capsys, "train", data, "--out", model, *TRAIN_FLAGS, "--resume")
    assert code == 0 and "replaced by a record of this run's data" in err
    assert "trained this model" in run(capsys, "evaluate", model, data)[2]


def test_ctrl_c_while_the_loss_curve_is_drawn_still_says_what_was_saved(tmp_path, capsys, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lstmininet.cli, "plot_loss_curves", interrupted)
    model = tmp_path / "m.lmn"
    code, _, err = run(capsys, "train", write_melodies(tmp_path / "a.txt"), "--out", model, *TRAIN_FLAGS)
    assert code == 130 and "saved" in err and "after 2 epochs" in err and "before the loss curve was drawn" in err
    assert not (tmp_path / "m.loss.png").exists() and history(model)["epoch"] == [1, 2]


def test_text_with_a_character_the_model_lacks_names_the_file(tmp_path, capsys):
    model, text = tmp_path / "t.lmn", tmp_path / "t.txt"
    text.write_text("abab abba baab " * 40, encoding="utf-8")
    assert run(capsys, "train", text, "--text", "--out", model, *TRAIN_FLAGS, "--seq-len", "8")[0] == 0
    new = tmp_path / "new.txt"
    new.write_text("abZ", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", model, new)
    assert code == 2 and f"{ERROR_PREFIX} {new}: token 'Z'" in err
