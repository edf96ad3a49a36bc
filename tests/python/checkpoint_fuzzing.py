"""Fuzzing the checkpoint loader: mutated checkpoints, loaded in subprocesses.

Variants come from a few real checkpoints (LSTM and GRU, one-hot and
embedded, with and without tokenizer and optimizer state) by bit flips,
byte overwrites, field-aware values (0, -1, INT_MAX, NaN, ...), truncation,
insertion, deletion and duplication. Most get their checksum recomputed so
the damage reaches the parser; a few keep the old one to exercise the
checksum check. Everything is derived from one seed: a run is repeatable.

Each variant is loaded by a worker process; one that loads is then used
(forward, generate, evaluate, state_dict, save and load again). Outcomes:
`loaded`, `clean` (ValueError or OSError naming the file), `other`
(any other Python exception: a bug, but not a crash), `crash` (the worker
died: a signal, an abort, a sanitizer report) and `hang` (no answer within
the time limit). Crashes and hangs must be zero.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from checkpoint_layout import fields, with_checksum

INTERESTING_INTS = [0, 1, -1, 2, 255, 256, 65535, 2**31 - 1, -(2**31), 2**31, 2**32 - 1, 10**9]
INTERESTING_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e38, -1e38, 1e-45, float("nan"), float("inf"), float("-inf")]

WORKER = r"""
import os, sys, numpy as np
import lstmininet
directory = sys.argv[1]
names = sorted(os.listdir(directory))[int(sys.argv[2]):]
out = sys.stdout
for name in names:
    path = os.path.join(directory, name)
    print("start", name, flush=True)
    try:
        model = lstmininet.load(path)
        v = model.vocab_size
        tokens = np.arange(min(v, 6)).reshape(1, -1) % v
        model.forward(tokens)
        model.generate([0], 4, seed=1)
        if tokens.shape[1] >= 2:
            model.evaluate([list(tokens[0])], batch_size=2, seq_len=4)
        model.state_dict()
        copy = path + ".copy"
        model.save(copy)
        lstmininet.load(copy)
        os.remove(copy)
        print("done", name, "loaded", flush=True)
    except (ValueError, OSError) as err:
        kind = "clean" if path in str(err) or name in str(err) else "unnamed"
        print("done", name, kind, type(err).__name__, str(err)[:300].replace("\n", " "), flush=True)
    except Exception as err:
        print("done", name, "other", type(err).__name__, str(err)[:300].replace("\n", " "), flush=True)
"""


def seed_checkpoints(directory: Path) -> list[bytes]:
    """A few small real checkpoints covering the format's branches."""
    from lstmininet import GRU, LSTM
    from lstmininet.tokenizers import CharTokenizer

    data = [[0, 1, 2, 3, 4, 5] * 3]
    models = [
        LSTM(6, hidden_size=3, seed=0),
        GRU(6, hidden_size=3, num_layers=2, embedding_dim=2, seed=1, tokenizer=CharTokenizer("abcdef")),
        LSTM(6, hidden_size=2, embedding_dim=3, dropout=0.25, seed=2),
        GRU(6, hidden_size=2, seed=3),
    ]
    models[0].fit(data, epochs=1, batch_size=2, seq_len=4, progress=False)
    models[2].fit(data, epochs=1, batch_size=2, seq_len=4, optimizer="sgd", momentum=0.9, progress=False)
    models[3].fit(data, epochs=1, batch_size=2, seq_len=4, optimizer="adamw", progress=False)
    out = []
    for i, model in enumerate(models):
        path = directory / f"seed{i}.lmn"
        model.save(path)
        out.append(path.read_bytes())
    return out


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a checkpoint: (description, bytes)."""
    layout = list(fields(data).values())
    body = bytearray(data[:-8])
    kind = rng.choice(["flip", "byte", "field", "field", "field", "truncate", "insert", "delete", "duplicate"])
    if kind == "flip":
        at = rng.randrange(len(body))
        body[at] ^= 1 << rng.randrange(8)
        what = f"flip bit at {at}"
    elif kind == "byte":
        at = rng.randrange(len(body))
        body[at] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        what = f"byte {body[at]} at {at}"
    elif kind == "field":
        f = rng.choice([f for f in layout if f.name != "checksum"])
        if f.fmt == "bytes" or f.fmt == "<f":
            if f.size == 0:
                return mutate(data, rng)
            at = f.offset + 4 * rng.randrange(max(f.size // 4, 1)) if f.fmt != "bytes" or f.size >= 4 else f.offset
            if f.fmt == "bytes" and f.size < 4:
                body[at] = rng.randrange(256)
                what = f"{f.name}: random byte"
            else:
                value = rng.choice(INTERESTING_FLOATS)
                body[at : at + 4] = struct.pack("<f", value)
                what = f"{f.name}: float {value}"
        else:
            bits = 8 * f.size
            value = rng.choice(INTERESTING_INTS + [rng.randrange(2**bits)])
            value %= 2**bits  # as the field's unsigned bytes
            body[f.offset : f.offset + f.size] = value.to_bytes(f.size, "little")
            what = f"{f.name}: {value}"
    elif kind == "truncate":
        at = rng.randrange(len(body))
        del body[at:]
        what = f"truncate at {at}"
    elif kind == "insert":
        at = rng.randrange(len(body) + 1)
        body[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 8, 13])))
        what = f"insert at {at}"
    elif kind == "delete":
        at = rng.randrange(len(body))
        n = rng.choice([1, 4, 8, 13])
        del body[at : at + n]
        what = f"delete {n} at {at}"
    else:
        at = rng.randrange(len(body))
        n = rng.randrange(1, 64)
        body[at:at] = body[at : at + n]
        what = f"duplicate {n} at {at}"
    if rng.random() < 0.1:  # keep the stale checksum: the checksum check must catch it
        return what + " (old checksum)", bytes(body) + data[-8:]
    return what, with_checksum(bytes(body) + b"\0" * 8)


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # crash, hang, other, unnamed: with the mutation

    @property
    def variants(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        parts = ", ".join(f"{k} {self.counts[k]}" for k in ("loaded", "clean", "unnamed", "other", "crash", "hang"))
        return f"{self.variants} variants: {parts}"


def _run_worker(directory: Path, names: list[str], report: Report, descriptions: dict, timeout: float) -> None:
    """Loads every file in `directory`, restarting after a crash or hang at the next file."""
    first = 0
    while first < len(names):
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(directory), str(first)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = None
        finished = first
        deadline = time.monotonic() + timeout * (len(names) - first + 2)
        hung = False
        try:
            # Each answer must come within `timeout` of the previous one (plus start-up).
            out, err = proc.communicate(timeout=max(deadline - time.monotonic(), timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            hung = True
        for line in out.splitlines():
            parts = line.split(" ", 3)
            if parts[0] == "start":
                started = parts[1]
            elif parts[0] == "done" and len(parts) >= 3:
                started = None
                finished += 1
                kind = parts[2]
                report.counts[kind] += 1
                if kind in ("other", "unnamed"):
                    report.problems.append(f"{kind}: {descriptions[parts[1]]}: {parts[3] if len(parts) > 3 else ''}")
        if started is None and proc.returncode == 0 and not hung:
            return
        if started is None:  # died between files (start-up): count nothing, report it
            report.counts["crash"] += 1
            report.problems.append(f"worker died outside a load (rc {proc.returncode}): {err[-2000:]}")
            return
        kind = "hang" if hung else "crash"
        report.counts[kind] += 1
        report.problems.append(f"{kind}: {descriptions[started]} (rc {proc.returncode}): {err[-2000:]}")
        first = finished + 1


def fuzz(variants: int, seed: int = 0, batch: int = 200, timeout: float = 20.0, minutes: float | None = None) -> Report:
    """Runs `variants` mutations (or as many as fit in `minutes`); returns the counts."""
    rng = random.Random(seed)
    report = Report()
    stop_at = None if minutes is None else time.monotonic() + 60 * minutes
    with tempfile.TemporaryDirectory(prefix="lmn-fuzz-") as tmp:
        seeds = seed_checkpoints(Path(tmp))
        done = 0
        round_number = 0
        while (done < variants) if stop_at is None else (time.monotonic() < stop_at):
            directory = Path(tmp) / f"round{round_number}"
            directory.mkdir()
            descriptions = {}
            n = batch if stop_at is not None else min(batch, variants - done)
            for i in range(n):
                source = rng.randrange(len(seeds))
                what, data = mutate(seeds[source], rng)
                name = f"v{i:05d}.lmn"
                (directory / name).write_bytes(data)
                descriptions[name] = f"seed{source} {what}"
            _run_worker(directory, sorted(descriptions), report, descriptions, timeout)
            done += n
            round_number += 1
            for leftover in directory.iterdir():
                leftover.unlink()
            directory.rmdir()
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="run for this long (default: --variants)")
    parser.add_argument("--variants", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "0")))
    args = parser.parse_args(argv)
    report = fuzz(args.variants, seed=args.seed, minutes=args.minutes)
    for problem in report.problems:
        print(problem)
    print(report.summary())
    return 1 if report.counts["crash"] or report.counts["hang"] else 0
