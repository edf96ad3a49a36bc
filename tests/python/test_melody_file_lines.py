"""Melody.txt line numbers are the ones an editor shows, and odd bytes still give file and line.

Lines end at "\n", "\r\n" or a lone "\r"; form feeds, U+2028 and
other characters that Python's str.splitlines treats as line breaks are
whitespace inside a line, so they never shift the reported line numbers.
"""

from __future__ import annotations

import pytest

from lstmininet.cli import main
from lstmininet.datasets import load_melody_file
from lstmininet.melody import split_melody_lines

LINE_BREAKS_FOR_SPLITLINES_ONLY = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("odd", LINE_BREAKS_FOR_SPLITLINES_ONLY, ids=repr)
def test_splitlines_breaks_do_not_shift_line_numbers(tmp_path, odd):
    path = tmp_path / "odd.txt"
    path.write_text(f"60 _ 62{odd}64 _\n67 x 69\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_melody_file(path)
    message = str(error.value)
    assert f"{path}, line 2:" in message, message
    assert "'x'" in message


@pytest.mark.parametrize("odd", LINE_BREAKS_FOR_SPLITLINES_ONLY, ids=repr)
def test_splitlines_breaks_are_whitespace_inside_a_line(tmp_path, odd):
    path = tmp_path / "odd.txt"
    path.write_text(f"60 _ 62{odd}64 _\n67 _ 69\n", encoding="utf-8")
    assert load_melody_file(path) == [["60", "_", "62", "64", "_"], ["67", "_", "69"]]


def test_split_melody_lines_handles_lf_and_crlf():
    assert split_melody_lines("60 62\r\n64\n\n67\r\n") == ["60 62", "64", "", "67", ""]
    assert split_melody_lines("60\x0c62\u202864") == ["60\x0c62\u202864"]


def test_a_lone_carriage_return_ends_a_line(tmp_path):
    # Old Mac files: the lines were one tune, and a duration file's grid line swallowed its tunes.
    path = tmp_path / "cr.txt"
    path.write_bytes(b"60 62 64\r65 67 69\r")
    assert load_melody_file(path) == [["60", "62", "64"], ["65", "67", "69"]]
    path.write_bytes(b"# lstmininet-melody: steps_per_quarter=12 encoding=duration\r62 d6\r64 d6 x d1\r")
    with pytest.raises(ValueError, match=rf"^{path}, line 3: "):
        load_melody_file(path)
    path.write_bytes(b"60 62\r64 _\r60 \xe9 62\r")
    with pytest.raises(ValueError, match=rf"^{path}, line 3: not UTF-8 text"):
        load_melody_file(path)


def test_five_thousand_digit_token_names_file_and_line(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("60 62\n60 " + "7" * 5000 + " 64\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_melody_file(path)
    message = str(error.value)
    assert message.startswith(f"{path}, line 2: token 2 "), message[:300]
    assert "5000 digits" in message
    assert len(message) < 400  # the token is abbreviated, not pasted whole


def test_non_utf8_melody_file_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"60 62\n64 _\n60 \xe9 62\n")
    with pytest.raises(ValueError, match=rf"^{path}, line 3: not UTF-8 text"):
        load_melody_file(path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_non_utf8_text_file_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "book.txt"
    path.write_bytes(b"It was a dark\nand stormy\nnight \xff\xfe\n")
    code, out, err = run(capsys, "train", path, "--text", "--out", tmp_path / "m.lmn", "--epochs", "1", "--quiet")
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{path}, line 3: not UTF-8 text" in err


def test_cli_vocabulary_error_after_a_form_feed_names_the_right_line(tmp_path, capsys):
    train = tmp_path / "train.txt"
    train.write_text("60 _ 62 _ 64 _ 65 _\n64 _ 62 _ 60 _ _ _\n", encoding="utf-8")
    model = tmp_path / "m.lmn"
    assert main(["train", str(train), "--out", str(model), "--epochs", "1", "--hidden", "8", "--quiet"]) == 0
    capsys.readouterr()
    data = tmp_path / "other.txt"
    # (An unknown pitch such as 90 is moved into the model's range since issue 12; a bad token still stops.)
    data.write_text("60 _ 62\x0c64 _\n62 _ x9 _\n", encoding="utf-8")
    code, out, err = run(capsys, "evaluate", model, data, "--quiet")
    assert code == 2
    assert f"{data}, line 2:" in err and "'x9'" in err, err
