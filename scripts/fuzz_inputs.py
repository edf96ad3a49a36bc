"""Fuzz the input loaders: Melody.txt lines, ABC and MIDI files through lstmininet.datasets.

Each variant is a mutation of a real small file (lines of data/Melody.txt,
single-tune ABC files of music21's corpus, the small MIDI files music21
ships and MIDI written from Melody.txt tunes). A worker process loads each
one with the public loaders, capped in memory and watched by a timer:

  ok           loaded, and every melody is valid grid tokens within the limits
  clean error  ValueError/OSError, one line naming the file
  unclear      ValueError/OSError whose message does not name the file or spans lines
  unexpected   any other exception type (a bug)
  wrong        loaded, but a melody is malformed or over the limits
  memory       MemoryError under the cap
  crash        the worker died (signal or exit)
  hang         no answer within --timeout seconds (the worker is killed and restarted)

Everything but ok and clean error is a failure; the exit status is 1 if any
occurred. Variants depend only on --seed and their number, so a failure is
reproduced with the same seed (--failures DIR keeps the files).

    python scripts/fuzz_inputs.py --minutes 10            # the long run
    python scripts/fuzz_inputs.py --variants 200 --seed 3 # a fixed set
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("melody_txt", "abc", "midi")
FAILURES = ("unclear", "unexpected", "wrong", "memory", "crash", "hang")
SUFFIX = {"melody_txt": ".txt", "abc": ".abc", "midi": ".mid"}

MELODY_LINES = 40  # first lines of data/Melody.txt used as seeds
ABC_SEEDS = 6  # smallest single-tune ABC files of music21's corpus (ryansMammoth)
MIDI_SEED_MAX_BYTES = 2000  # music21's own small test MIDI files

# -- seeds ---------------------------------------------------------------------


def melody_seeds() -> list[bytes]:
    lines = (REPO_ROOT / "data" / "Melody.txt").read_text(encoding="utf-8").split("\n")
    grid_line = [line for line in lines if line.startswith("# lstmininet-melody:")][:1]  # how to read the tunes
    tunes = [line for line in lines if line.strip() and not line.startswith("#")][:MELODY_LINES]
    # Files of the grid line and three consecutive tunes, so line numbers matter.
    return [("\n".join(grid_line + tunes[i : i + 3]) + "\n").encode() for i in range(0, len(tunes), 3)]


def abc_seeds() -> list[bytes]:
    from music21 import corpus

    files = sorted((Path(p) for p in corpus.getPaths() if str(p).endswith(".abc")), key=lambda p: (p.stat().st_size, p))
    return [p.read_bytes() for p in files[:ABC_SEEDS]]


def midi_seeds() -> list[bytes]:
    import music21

    from lstmininet.melody_file import parse_melody_text
    from lstmininet.midi import write_midi

    folder = Path(music21.__file__).parent / "midi" / "testPrimitive"
    seeds = [p.read_bytes() for p in sorted(folder.glob("*.mid")) if p.stat().st_size <= MIDI_SEED_MAX_BYTES]
    tunes, form = parse_melody_text(melody_seeds()[0].decode().split("\n"), "data/Melody.txt")
    with tempfile.TemporaryDirectory() as folder:
        for number, tune in enumerate(tunes):
            path = Path(folder) / f"{number}.mid"
            seeds.append(write_midi(tune, path, steps_per_quarter=form.steps_per_quarter).read_bytes())
    return seeds


# -- mutations -----------------------------------------------------------------

BIG_NUMBERS = [b"0", b"999999999", b"4294967296", b"18446744073709551617", b"9" * 5000, b"-1", b"1e9"]
ODD_TEXT = [
    b"\x0c",
    b"\x0b",
    b"\r",
    b"\r\n",
    b"\x00",
    b"\xe2\x80\xa8",
    b"\xc2\x85",
    b"\xff\xfe",
    b"#",
    b"_",
    b" ",
    b"\t",
]
MELODY_TOKENS = [b"_", b"r", b"60", b"127", b"128", b"-0", b"060", b"<s>", b"x", b"\xd9\xa3", b"d3", b"d0", b"d512"]
MELODY_TOKENS += [b"d99999", b"\n# lstmininet-melody: steps_per_quarter=4\n", b"encoding=grid"]
ABC_PIECES = [
    b"L:1/999999\n",
    b"L:1/1\n",
    b"M:999/1\n",
    b"M:0/0\n",
    b"Q:1/4=0\n",
    b"K:none\n",
    b"K:Hp\n",
    b"|:",
    b":|",
    b"::",
    b"[1",
    b"(3",
    b"(9",
    b"[CEG]",
    b"z999",
    b"C/999",
    b"{g}",
    b"~",
    b"^^^",
    b"X:2\n",
    b"\n\n",
]


def variable_length(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def _flip_bit(data: bytearray, rng: random.Random, target: str) -> None:
    if data:
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)


def _set_byte(data: bytearray, rng: random.Random, target: str) -> None:
    if data:
        data[rng.randrange(len(data))] = rng.choice([0x00, 0x01, 0x7F, 0x80, 0xFF, rng.randrange(256)])


def _insert(data: bytearray, rng: random.Random, target: str) -> None:
    if target == "midi":
        piece = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif target == "abc":
        piece = rng.choice(ABC_PIECES + BIG_NUMBERS + ODD_TEXT)
    else:
        piece = rng.choice(MELODY_TOKENS + BIG_NUMBERS + ODD_TEXT)
        piece = b" " + piece + b" " if rng.random() < 0.7 else piece
    at = rng.randrange(len(data) + 1)
    data[at:at] = piece


def _delete(data: bytearray, rng: random.Random, target: str) -> None:
    if data:
        start = rng.randrange(len(data))
        del data[start : start + rng.randint(1, 16)]


def _duplicate(data: bytearray, rng: random.Random, target: str) -> None:
    if data:
        start = rng.randrange(len(data))
        piece = data[start : start + rng.randint(1, 64)]
        at = rng.randrange(len(data) + 1)
        data[at:at] = piece * rng.choice([1, 2, 50])


def _truncate(data: bytearray, rng: random.Random, target: str) -> None:
    if data:
        del data[rng.randrange(len(data)) :]


def _big_number(data: bytearray, rng: random.Random, target: str) -> None:
    """Replace a run of digits (a note length, pitch, header field) with a large number."""
    runs = []
    start = None
    for i, byte in enumerate(bytes(data) + b" "):
        if 48 <= byte <= 57 and start is None:
            start = i
        elif not 48 <= byte <= 57 and start is not None:
            runs.append((start, i))
            start = None
    if runs:
        begin, end = rng.choice(runs)
        data[begin:end] = rng.choice(BIG_NUMBERS)


def _midi_delta(data: bytearray, rng: random.Random, target: str) -> None:
    """Insert a long delta time (and a note) at a random place inside the first track."""
    at = data.find(b"MTrk")
    if at < 0 or at + 8 > len(data):
        return
    position = rng.randrange(at + 8, len(data) + 1)
    delta = variable_length(rng.choice([0x7F, 0x3FFF, 0x0FFFFFFF, 2**40]))
    data[position:position] = delta + bytes([0x90, 60, 64]) + variable_length(rng.randrange(1 << 21)) + b"\x80<\x00"


def _midi_header(data: bytearray, rng: random.Random, target: str) -> None:
    """Odd format, track count, division or chunk length fields."""
    if len(data) < 22:
        return
    field = rng.choice([(8, 2), (10, 2), (12, 2), (18, 4)])
    value = rng.choice([0, 1, 2, 0x7FFF, 0x8000, 0xE728, 0xFFFF, 0xFFFFFFFF, rng.randrange(1 << 16)])
    offset, size = field
    data[offset : offset + size] = (value % (1 << (8 * size))).to_bytes(size, "big")


MUTATORS = {
    "melody_txt": [_flip_bit, _set_byte, _insert, _insert, _delete, _duplicate, _truncate, _big_number],
    "abc": [_flip_bit, _set_byte, _insert, _insert, _delete, _duplicate, _truncate, _big_number, _big_number],
    "midi": [_flip_bit, _set_byte, _insert, _delete, _duplicate, _truncate, _midi_delta, _midi_delta, _midi_header],
}


def make_variant(seeds: list[bytes], target: str, seed: int, number: int) -> bytes:
    """Variant ``number`` of ``target``: one to four mutations of a seed file (deterministic)."""
    rng = random.Random(f"{seed}:{target}:{number}")
    data = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 4)):
        rng.choice(MUTATORS[target])(data, rng, target)
    return bytes(data)


# -- the worker: loads files, reports outcomes -----------------------------------


def worker() -> None:
    """Read one JSON request per line, answer one JSON outcome per line."""
    import warnings

    from lstmininet.datasets import load_melodies
    from lstmininet.input_limits import DEFAULT_MAX_TUNE_STEPS
    from lstmininet.melody import validate_melody_tokens

    warnings.simplefilter("ignore")  # music21 warns freely about odd scores; outcomes are what count
    for line in sys.stdin:
        request = json.loads(line)
        path = request["path"]
        try:
            melodies = load_melodies(path, cache=False, progress=False, off_grid=request["off_grid"])
            for melody in melodies:
                validate_melody_tokens(melody, source=path)
                if len(melody) > DEFAULT_MAX_TUNE_STEPS:
                    raise AssertionError(f"a melody of {len(melody)} steps passed the tune limit")
            answer = {"outcome": "ok"}
        except MemoryError:
            answer = {"outcome": "memory"}
        except AssertionError as err:
            answer = {"outcome": "wrong", "message": str(err)[:500]}
        except (ValueError, OSError) as err:
            message = str(err)
            clean = path in message and "\n" not in message
            answer = {"outcome": "clean" if clean else "unclear", "message": message[:500]}
        except Exception as err:  # noqa: BLE001 - counting them is the point
            answer = {"outcome": "unexpected", "message": f"{type(err).__name__}: {err}"[:500]}
        print(json.dumps(answer), flush=True)


class Worker:
    """A worker process under a memory cap, restarted after a crash or a hang."""

    def __init__(self, memory_mb: int):
        self.memory = memory_mb << 20
        self.process = None

    def start(self) -> None:
        def cap():
            os.setsid()  # its own process group: a hang is killed with everything it started
            resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))

        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            preexec_fn=cap,
        )

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def load(self, path: str, off_grid: str, timeout: float) -> dict:
        if self.process is None:
            self.start()
        try:
            self.process.stdin.write((json.dumps({"path": path, "off_grid": off_grid}) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._died()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return {"outcome": "hang", "message": f"no answer in {timeout:g} s"}
        line = self.process.stdout.readline()
        if not line:
            return self._died()
        return json.loads(line)

    def _died(self) -> dict:
        code = self.process.wait()
        self.process = None
        return {"outcome": "crash", "message": f"worker exit status {code}"}


# -- the run -------------------------------------------------------------------


def run(args) -> dict:
    seeds = {"melody_txt": melody_seeds(), "abc": abc_seeds(), "midi": midi_seeds()}
    counts = {target: Counter() for target in TARGETS}
    examples: list[dict] = []
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else None
    worker = Worker(args.memory_mb)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="lstmininet-fuzz-") as folder:
            number = 0
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    break
                if deadline is None and number >= args.variants:
                    break
                for target in TARGETS:
                    data = make_variant(seeds[target], target, args.seed, number)
                    path = os.path.join(folder, f"variant-{number}{SUFFIX[target]}")
                    with open(path, "wb") as f:
                        f.write(data)
                    off_grid = "quantize" if number % 2 else "skip"
                    answer = worker.load(path, off_grid, args.timeout)
                    counts[target]["variants"] += 1
                    counts[target][answer["outcome"]] += 1
                    if answer["outcome"] in FAILURES:
                        examples.append({"target": target, "number": number, **answer})
                        if args.failures:
                            keep = Path(args.failures)
                            keep.mkdir(parents=True, exist_ok=True)
                            (keep / f"{target}-{args.seed}-{number}{SUFFIX[target]}").write_bytes(data)
                    os.unlink(path)
                number += 1
    finally:
        worker.stop()
    total = sum((c for c in counts.values()), Counter())
    return {
        "seed": args.seed,
        "seconds": round(time.monotonic() - started, 1),
        "counts": {target: dict(c) for target, c in counts.items()},
        "total": dict(total),
        "failures": sum(total[f] for f in FAILURES),
        "examples": examples[:50],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--minutes", type=float, default=None, help="run until this much time has passed")
    parser.add_argument("--variants", type=int, default=100, help="variants per target (without --minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a variant counts as a hang")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address-space cap of the worker")
    parser.add_argument("--json", help="write the counts here")
    parser.add_argument("--failures", help="keep every failing variant in this folder")
    args = parser.parse_args(argv)
    if args.worker:
        worker()
        return 0
    result = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    for target, c in result["counts"].items():
        print(f"{target:11s} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    print(
        f"total: {result['total'].get('variants', 0)} variants in {result['seconds']} s, {result['failures']} failures"
    )
    for example in result["examples"][:10]:
        print(f"  {example['target']} #{example['number']}: {example['outcome']}: {example.get('message', '')[:200]}")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
