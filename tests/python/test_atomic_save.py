"""Saving is atomic and leaves nothing behind: temporary files of killed
writers are cleaned up, and targets that are not regular files are refused
(saving onto a device node used to replace it with a regular file)."""

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from lstmininet import LSTM, load
from lstmininet.atomic_file import write_text_atomically

# Also run against the ASan+UBSan build of the extension (scripts/test.sh).
pytestmark = pytest.mark.sanitize


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


@pytest.fixture
def lock_holder():
    """Starts processes that create a file and hold its flock, as a writer in
    the middle of a save holds its temporary file's."""
    procs = []

    def hold(path):
        code = (
            "import fcntl, sys, time\nf = open(sys.argv[1], 'wb')\nfcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\ntime.sleep(60)\n"
        )
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_temp_files_of_dead_writers_are_removed(tmp_path, lock_holder):
    target = tmp_path / "m.lmn"
    dead = dead_pid()
    # Killed writers: of earlier versions (a counter after the PID), of this
    # one (8 hex digits), and one whose PID is this process's (a writer in
    # another PID namespace, a container sharing the folder, can have it).
    stale = [
        tmp_path / f"m.lmn.tmp-{dead}",
        tmp_path / f"m.lmn.tmp-{dead}-7",
        tmp_path / f"m.lmn.tmp-{dead}-0badf00d",
        tmp_path / f"m.lmn.tmp-{os.getpid()}-1",
    ]
    # Saves in progress: one in another process, and one whose PID means
    # nothing here (a writer in another PID namespace) but that holds its lock.
    in_progress = [tmp_path / f"m.lmn.tmp-{os.getppid()}-5eed1234", tmp_path / f"m.lmn.tmp-{dead}-12345678"]
    unrelated = [tmp_path / f"other.lmn.tmp-{dead}", tmp_path / f"m.lmn.tmp-{dead}.keep"]
    for path in [*stale, *unrelated]:
        path.write_bytes(b"partial")
    for path in in_progress:
        lock_holder(path)
    LSTM(5, hidden_size=4, seed=0).save(target)
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in in_progress) and all(path.exists() for path in unrelated)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in [target, *in_progress, *unrelated])
    write_text_atomically(tmp_path / "h.json", "{}")  # text files follow the same rules
    lock_holder(tmp_path / f"h.json.tmp-{dead}-aaaaaaaa")
    (tmp_path / f"h.json.tmp-{dead}-bbbbbbbb").write_bytes(b"partial")
    write_text_atomically(tmp_path / "h.json", "{}")
    assert sorted(p.name for p in tmp_path.glob("h.json*")) == ["h.json", f"h.json.tmp-{dead}-aaaaaaaa"]


def test_kill_during_save_never_loses_the_model_nor_piles_up_files(tmp_path):
    target = tmp_path / "m.lmn"
    LSTM(40, hidden_size=8, seed=0).save(target)
    saver = (
        "import sys\nfrom lstmininet import LSTM\nm = LSTM(40, hidden_size=384, seed=1)\n"
        "print('ready', flush=True)\nwhile True:\n    m.save(sys.argv[1])\n"
    )
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", saver, str(target)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert load(target).config["vocab_size"] == 40  # old or new, never damaged
    LSTM(40, hidden_size=8, seed=2).save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["m.lmn"]


def test_a_target_that_is_not_a_regular_file_is_refused(tmp_path):
    model = LSTM(5, hidden_size=4, seed=0)
    fifo = tmp_path / "pipe.lmn"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="pipe.lmn': it exists and is not a regular file"):
        model.save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, not replaced by a file
    (tmp_path / "dir.lmn").mkdir()
    with pytest.raises(IsADirectoryError, match="dir.lmn"):
        model.save(tmp_path / "dir.lmn")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.lmn", "pipe.lmn"]


def test_text_files_are_replaced_atomically_too(tmp_path):
    target = tmp_path / "m.history.json"
    stale = tmp_path / f"m.history.json.tmp-{dead_pid()}-1"
    stale.write_text("{")
    write_text_atomically(target, '{"epoch": [1]}')
    assert target.read_text() == '{"epoch": [1]}'
    assert [p.name for p in tmp_path.iterdir()] == ["m.history.json"]
    (tmp_path / "d.json").mkdir()
    with pytest.raises(OSError, match="not a regular file"):
        write_text_atomically(tmp_path / "d.json", "{}")


def save_model(path):
    LSTM(5, hidden_size=4, seed=0).save(path)


def save_text(path):
    write_text_atomically(path, "{}")


@pytest.mark.parametrize("save", [save_model, save_text], ids=["checkpoint", "text"])
def test_a_file_saved_again_keeps_its_permissions_and_links(tmp_path, save):
    # The temporary file replaces the target: it used to come with 0644 (a
    # private checkpoint became world-readable) and to replace a symbolic
    # link with a file, leaving the file the link named stale.
    private = tmp_path / "private.lmn"
    save(private)
    os.chmod(private, 0o600)
    save(private)
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    (tmp_path / "runs").mkdir()
    run = tmp_path / "runs" / "run3.lmn"
    save(run)
    before = os.stat(run).st_mtime_ns
    latest = tmp_path / "latest.lmn"
    latest.symlink_to(run)
    time.sleep(0.01)
    save(latest)
    assert latest.is_symlink() and latest.resolve() == run
    assert os.stat(run).st_mtime_ns > before
    dangling = tmp_path / "next.lmn"
    dangling.symlink_to(tmp_path / "runs" / "run4.lmn")
    save(dangling)
    assert dangling.is_symlink() and (tmp_path / "runs" / "run4.lmn").is_file()
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    with pytest.raises(OSError, match="too many levels of symbolic links"):
        save(tmp_path / "loop_a")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["run3.lmn", "run4.lmn"]


@pytest.mark.parametrize("save", [save_model, save_text], ids=["checkpoint", "text"])
def test_a_long_file_name_saves(tmp_path, save):
    # A name of 250 bytes is legal; with ".tmp-PID-N" added, its temporary
    # file's was not (ENAMETOOLONG).
    target = tmp_path / ("m" * 246 + ".lmn")
    stale = tmp_path / ("m" * 233 + f".tmp-{dead_pid()}-1")
    stale.write_bytes(b"partial")
    save(target)
    save(target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
