"""Every failure a user can cause in the CLI is one line naming the file and the problem, status 2.

Each case runs the real console entry point in a child process (so a
crash, a traceback or a hang cannot hide behind pytest's capture) and
checks: exit status 2, nothing but one `... error: ...` line on stderr,
the names that locate the problem in it, and no traceback. A genuine bug
still shows its traceback and says it is one (status 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lstmininet as lm
from lstmininet.cli import main
from lstmininet.tokenizers import CharTokenizer, MelodyTokenizer

TUNES = [
    "60 _ 62 _ 64 _ 65 _ 67 _ _ _",
    "64 _ 62 _ 60 _ _ _ 62 _ 64 _",
    "67 _ 65 _ 64 _ 62 _ 60 _ _ _",
    "60 _ 60 _ 67 _ 67 _ 69 _ _ _",
]
QUICK = ["--epochs", "1", "--hidden", "8", "--quiet", "--val-fraction", "0.25"]


def run_cli(*argv, cwd: Path) -> tuple[int, str, str]:
    child = subprocess.run(
        [sys.executable, "-m", "lstmininet.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "LSTMININET_CACHE_DIR": str(cwd / "cache")},
    )
    return child.returncode, child.stdout, child.stderr


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Status 2; the last stderr line is the error, and the only one (train may print its plan first)."""
    assert code == 2, (code, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    lines = err.splitlines()
    assert lines and "error: " in lines[-1], err[-3000:]
    assert sum("error" in line for line in lines) == 1, err[-3000:]
    assert len(lines) <= 2, err[-3000:]
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder with melodies, a trained model and a few odd files; tests only read it."""
    folder = tmp_path_factory.mktemp("cli_errors")
    (folder / "tunes.txt").write_text("\n".join(TUNES) + "\n")
    assert main(["train", str(folder / "tunes.txt"), "--out", str(folder / "model.lmn"), *QUICK]) == 0
    (folder / "a_folder").mkdir()
    (folder / "empty_folder").mkdir()
    (folder / "not_midi.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage" * 3)
    (folder / "latin1.txt").write_bytes(b"60 _ 62\n64 \xe9 65\n")
    return folder


def checkpoint_with_metadata(path: Path, metadata_json: str, vocab_size: int = 5) -> Path:
    """A checkpoint with a valid checksum whose metadata JSON is ``metadata_json``."""
    model = lm.LSTM(vocab_size, hidden_size=4, seed=0)
    model._core.save(str(path), [], metadata_json)
    return path


TOKENIZER = MelodyTokenizer(["60", "62", "r", "_", "64"]).to_dict()
DAMAGED_METADATA = {
    "list": "[1, 2, 3]",
    "null": "null",
    "string": '"a string"',
    "number": "42",
    "nested_10000_lists": "[" * 10_000 + "]" * 10_000,
    "nested_10000_objects": '{"a":' * 10_000 + "1" + "}" * 10_000,
    "not_json": "{not json",
    "seed_is_text": '{"seed": "zero"}',
    "seed_is_negative": '{"seed": -1}',
    "seed_is_huge": '{"seed": ' + "9" * 40 + "}",
    "tokenizer_is_list": '{"tokenizer": [1, 2]}',
    "tokenizer_vocab_of_numbers": json.dumps({"tokenizer": {"kind": "melody", "vocab": [1, 2, 3, 4, 5]}}),
    "tokenizer_bad_token": json.dumps({"tokenizer": {"kind": "melody", "vocab": ["60", "x", "r", "_", "64"]}}),
    "tokenizer_steps_is_text": json.dumps({"tokenizer": {**TOKENIZER, "steps_per_quarter": "four"}}),
    "tokenizer_too_small": json.dumps({"tokenizer": {**TOKENIZER, "vocab": ["60", "62", "r"]}}),
}


@pytest.mark.parametrize("kind", list(DAMAGED_METADATA))
@pytest.mark.parametrize("command", ["info", "generate"])
def test_damaged_checkpoint_metadata(workspace, tmp_path, kind, command):
    path = checkpoint_with_metadata(tmp_path / f"{kind}.lmn", DAMAGED_METADATA[kind])
    code, _, err = run_cli(command, path, cwd=tmp_path)
    assert_one_line_error(code, err, f"{kind}.lmn")


def test_damaged_metadata_in_the_python_api(tmp_path):
    path = checkpoint_with_metadata(tmp_path / "list.lmn", "[1, 2, 3]")
    with pytest.raises(ValueError, match="list.lmn' has damaged metadata: expected a JSON object, got list"):
        lm.load(path)


def test_load_of_a_folder_raises_is_a_directory_error(tmp_path):
    with pytest.raises(IsADirectoryError) as error:
        lm.load(tmp_path)
    assert error.value.filename == str(tmp_path)
    with pytest.raises(OSError):
        lm.LSTM.load(tmp_path)


# (argv, fragments expected in the one line); {w} is the workspace folder, {t} a fresh tmp folder.
CASES = {
    "info_folder_with_slash": (["info", "{w}/a_folder/"], ["a_folder", "folder"]),
    "info_folder": (["info", "{w}/a_folder"], ["a_folder"]),
    "info_missing": (["info", "{w}/absent.lmn"], ["absent.lmn"]),
    "info_melody_file": (["info", "{w}/tunes.txt"], ["tunes.txt"]),
    "generate_folder": (["generate", "{w}/a_folder"], ["a_folder"]),
    "evaluate_folder_as_model": (["evaluate", "{w}/a_folder", "{w}/tunes.txt"], ["a_folder"]),
    "evaluate_empty_data_folder": (["evaluate", "{w}/model.lmn", "{w}/empty_folder"], ["empty_folder"]),
    "evaluate_not_utf8": (["evaluate", "{w}/model.lmn", "{w}/latin1.txt"], ["latin1.txt", "line 2", "UTF-8"]),
    "train_missing_data": (["train", "{w}/absent.txt", "--out", "{t}/m.lmn", *QUICK], ["absent.txt"]),
    "train_bad_midi": (["train", "{w}/not_midi.mid", "--out", "{t}/m.lmn", *QUICK], ["not_midi.mid"]),
    "train_text_folder": (["train", "{w}/a_folder", "--text", "--out", "{t}/m.lmn", *QUICK], ["a_folder"]),
    "train_out_is_a_folder": (["train", "{w}/tunes.txt", "--out", "{w}/a_folder", *QUICK], ["--out", "a_folder"]),
    "train_huge_seq_len": (["train", "{w}/tunes.txt", "--out", "{t}/m.lmn", "--seq-len", "3000000000"], ["--seq-len"]),
    "train_huge_batch": (["train", "{w}/tunes.txt", "--out", "{t}/m.lmn", "--batch-size", "2147483648"], ["--batch"]),
    "train_huge_seed": (["train", "{w}/tunes.txt", "--out", "{t}/m.lmn", "--seed", "1" + "0" * 30], ["--seed"]),
    "train_word_for_int": (["train", "{w}/tunes.txt", "--out", "{t}/m.lmn", "--epochs", "ten"], ["--epochs", "ten"]),
    "train_diverges": (
        ["train", "{w}/tunes.txt", "--out", "{t}/m.lmn", "--lr", "1e38", "--epochs", "5", "--quiet"],
        ["tunes.txt", "diverged"],
    ),
    "generate_huge_length": (["generate", "{w}/model.lmn", "--length", "3000000000"], ["--length"]),
    "generate_huge_top_k": (["generate", "{w}/model.lmn", "--top-k", "4294967296"], ["--top-k"]),
    "generate_unknown_primer": (["generate", "{w}/model.lmn", "--primer", "60 x"], ["'x'"]),
    "generate_midi_into_folder": (["generate", "{w}/model.lmn", "--midi", "{w}/a_folder"], ["--midi", "a_folder"]),
    "generate_midi_missing_folder": (["generate", "{w}/model.lmn", "--midi", "{t}/no/x.mid"], ["--midi", "x.mid"]),
    "generate_xml_into_folder": (["generate", "{w}/model.lmn", "--musicxml", "{w}/a_folder"], ["a_folder"]),
    "export_missing_folder": (["export", "{w}/model.lmn", "--onnx", "{t}/no/m.onnx"], ["--onnx", "m.onnx"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_errors_are_one_line(workspace, tmp_path, case):
    argv, fragments = CASES[case]
    argv = [a.format(w=workspace, t=tmp_path) for a in argv]
    code, _, err = run_cli(*argv, cwd=tmp_path)
    assert_one_line_error(code, err, *fragments)


@pytest.mark.parametrize(
    "history", ["[1, 2]", '{"epoch": 3}', "not json", "[" * 10_000], ids=["list", "not_lists", "not_json", "deep"]
)
def test_resume_with_a_damaged_history_names_the_history_file(workspace, tmp_path, history):
    model = tmp_path / "model.lmn"
    model.write_bytes((workspace / "model.lmn").read_bytes())
    (tmp_path / "model.history.json").write_text(history)
    code, _, err = run_cli("train", workspace / "tunes.txt", "--out", model, "--resume", *QUICK, cwd=tmp_path)
    assert_one_line_error(code, err, "model.history.json", "damaged history")


def test_resume_with_the_other_kind_of_data_names_the_model_kind(workspace, tmp_path):
    text_model = tmp_path / "text.lmn"
    lm.LSTM(3, hidden_size=8, tokenizer=CharTokenizer.build("ab\n")).save(text_model)
    code, _, err = run_cli("train", workspace / "tunes.txt", "--out", text_model, "--resume", *QUICK, cwd=tmp_path)
    assert_one_line_error(code, err, "text.lmn is a character model", "--text")

    melody_model = tmp_path / "model.lmn"
    melody_model.write_bytes((workspace / "model.lmn").read_bytes())
    (tmp_path / "text.txt").write_text("hello\n" * 20)
    code, _, err = run_cli("train", "text.txt", "--text", "--out", melody_model, "--resume", *QUICK, cwd=tmp_path)
    assert_one_line_error(code, err, "model.lmn is a melody model", "--text")


def test_resume_refuses_shape_options_that_differ_from_the_saved_model(workspace, tmp_path):
    tunes = workspace / "tunes.txt"
    model = tmp_path / "model.lmn"
    model.write_bytes((workspace / "model.lmn").read_bytes())  # LSTM, hidden 8 (QUICK), 1 layer, one-hot
    shape = ["--cell", "gru", "--layers", "2", "--embedding", "4", "--dropout", "0.5"]
    code, _, err = run_cli("train", tunes, "--out", model, "--resume", *QUICK, *shape, cwd=tmp_path)
    assert_one_line_error(
        code,
        err,
        "model.lmn",
        "--cell gru (saved: lstm)",
        "--layers 2 (saved: 1)",
        "--embedding 4 (saved: one-hot)",
        "--dropout 0.5 (saved: 0)",
    )
    assert "--hidden" not in err  # QUICK's --hidden 8 is the saved size
    assert model.read_bytes() == (workspace / "model.lmn").read_bytes()

    # The same values again, or none, resume; 0.3 comes back from the file as a 32-bit float.
    shaped = tmp_path / "shaped.lmn"
    assert run_cli("train", tunes, "--out", shaped, *QUICK, *shape[:-1], "0.3", cwd=tmp_path)[0] == 0
    code, _, err = run_cli("train", tunes, "--out", shaped, "--resume", *QUICK, *shape[:-1], "0.3", cwd=tmp_path)
    assert code == 0, err
    code, _, err = run_cli("train", tunes, "--out", shaped, "--resume", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert code == 0, err
    assert lm.load(shaped).config["num_layers"] == 2 and lm.load(shaped).epochs_done == 3


def test_score_with_fewer_than_4_reference_tunes_names_the_reference(workspace, tmp_path):
    (tmp_path / "three.txt").write_text("\n".join(TUNES[:3]) + "\n")
    code, _, err = run_cli("score", workspace / "tunes.txt", "three.txt", "--quiet", cwd=tmp_path)
    assert_one_line_error(code, err, "three.txt: need at least 4 reference tunes", "got 3")


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


@needs_fifo
@pytest.mark.parametrize("name", ["m.lmn", "m.data.json", "m.history.json"])
def test_train_refuses_an_output_that_is_not_a_regular_file_before_loading(workspace, tmp_path, name):
    if name == "m.data.json":  # written with a plain open: into a FIFO that would wait for a reader
        (tmp_path / name).symlink_to(os.devnull)
    else:
        os.mkfifo(tmp_path / name)
    code, _, err = run_cli("train", workspace / "tunes.txt", "--out", "m.lmn", *QUICK, cwd=tmp_path)
    assert_one_line_error(code, err, "--out m.lmn", f"{name}: exists and is not a regular file")
    assert "sequences" not in err  # before the data was loaded
    assert [p.name for p in tmp_path.iterdir()] == [name]  # and before anything was written beside it


@pytest.mark.skipif(os.devnull != "/dev/null", reason="needs /dev/null")
@pytest.mark.parametrize("command", ["generate", "score"])
def test_an_output_that_is_a_device_is_refused_before_the_work(workspace, tmp_path, command):
    (tmp_path / "out").symlink_to(os.devnull)  # writing into it only discards bytes
    tunes, model = workspace / "tunes.txt", workspace / "model.lmn"
    argv = {
        "generate": ["generate", model, "--seed", "0", "--midi", "out"],
        "score": ["score", tunes, tunes, "--quiet", "--plot", "out"],
    }[command]
    code, out, err = run_cli(*argv, cwd=tmp_path)
    assert_one_line_error(code, err, "out: exists and is not a regular file")
    assert out == ""  # refused before sampling or scoring


@pytest.mark.skipif(os.devnull != "/dev/null", reason="needs /dev/null")
def test_a_numbered_output_that_is_a_device_is_refused_before_any_file_is_written(workspace, tmp_path):
    (tmp_path / "out_2.mid").symlink_to(os.devnull)
    argv = ["generate", workspace / "model.lmn", "--count", "2", "--primer", "60 _", "--midi", "out.mid"]
    code, out, err = run_cli(*argv, cwd=tmp_path)
    assert_one_line_error(code, err, "--midi out_2.mid: exists and is not a regular file")
    assert out == "" and [p.name for p in tmp_path.iterdir()] == ["out_2.mid"]  # no out_1.mid either


# An output that is one of the command's own inputs: it used to be overwritten with status 0
# (the training tunes became a checkpoint, the model a MIDI file). argv runs in a folder holding
# copies of tunes.txt and model.lmn and a link to each.
SELF_OVERWRITES = {
    "train_out_is_the_data": (["train", "tunes.txt", "--out", "tunes.txt", *QUICK], "the training data tunes.txt"),
    "train_out_links_to_the_data": (["train", "tunes.txt", "--out", "tunes_link"], "the training data tunes.txt"),
    "generate_midi_is_the_model": (["generate", "model.lmn", "--midi", "model.lmn"], "the model model.lmn"),
    "generate_wav_links_to_the_model": (["generate", "model.lmn", "--wav", "model_link"], "the model model.lmn"),
    "generate_two_outputs_one_file": (
        ["generate", "model.lmn", "--midi", "x.mid", "--musicxml", "./x.mid"],
        "the --midi output x.mid",
    ),
    "export_onnx_is_the_model": (["export", "model.lmn", "--onnx", "model.lmn"], "the model model.lmn"),
    "export_onnx_links_to_the_model": (["export", "model.lmn", "--onnx", "model_link"], "the model model.lmn"),
    "score_plot_is_the_reference": (["score", "tunes.txt", "tunes.txt", "--plot", "tunes.txt"], "the melodies"),
}


@pytest.mark.parametrize("case", list(SELF_OVERWRITES))
def test_an_output_that_is_an_input_is_refused(workspace, tmp_path, case):
    argv, fragment = SELF_OVERWRITES[case]
    for name in ("tunes.txt", "model.lmn"):
        (tmp_path / name).write_bytes((workspace / name).read_bytes())
    (tmp_path / "tunes_link").symlink_to(tmp_path / "tunes.txt")
    (tmp_path / "model_link").symlink_to(tmp_path / "model.lmn")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = run_cli(*argv, cwd=tmp_path)
    assert_one_line_error(code, err, "is the same file as " + fragment)
    assert out == "" and {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    "argv",
    [["evaluate", "{w}/model.lmn", ""], ["train", "", "--out", "m.lmn"], ["generate", "{w}/model.lmn", "--midi", ""]],
    ids=["evaluate_data", "train_data", "generate_midi"],
)
def test_an_empty_path_is_refused_not_taken_for_the_current_folder(workspace, tmp_path, argv):
    # `lstmininet evaluate m.lmn "$DATA"` with DATA unset loaded every score under the current folder.
    code, out, err = run_cli(*[a.format(w=workspace) for a in argv], cwd=tmp_path)
    assert code == 2 and "an empty path" in err and out == ""


def test_a_bug_keeps_its_traceback_and_says_it_is_a_bug(workspace, capsys, monkeypatch):
    import lstmininet.cli as cli

    def broken(path):
        raise TypeError("an internal mistake")

    monkeypatch.setattr(cli, "load", broken)
    assert cli.main(["info", str(workspace / "model.lmn")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "TypeError: an internal mistake" in err
    assert "bug in lstmininet" in err.splitlines()[-1]


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    # `generate ... | head -1` printed "lstmininet: error: [Errno 32] Broken pipe" and exited 2.
    text = tmp_path / "t.txt"
    text.write_text("abab abba baab\n" * 60, encoding="utf-8")
    assert main(["train", str(text), "--text", "--out", str(tmp_path / "t.lmn"), *QUICK, "--seq-len", "8"]) == 0
    argv = ["generate", tmp_path / "t.lmn", "--count", "1000", "--length", "200", "--seed", "0"]  # 200 kB of text
    child = subprocess.Popen(
        [sys.executable, "-m", "lstmininet.cli", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    child.stdout.readline()
    child.stdout.close()  # more than a pipe buffer of text is still to come
    _, err = child.communicate(timeout=300)
    assert child.returncode == 141 and b"error" not in err and b"Traceback" not in err, err
