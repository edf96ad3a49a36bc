#!/usr/bin/env python3
"""Which melody encoding models O'Neill's tunes best: 1/16 grid, 12-per-quarter grid, or pitch + duration tokens.

    python benchmarks/encodings.py                     # all three, 10 epochs each (minutes on two cores)
    python benchmarks/encodings.py --epochs 2 --samples 20 --max-tunes 200   # a quick look

The corpus is music21's ``oneills1850`` loaded at ``--grid`` steps per quarter
(12 holds triplets; see data/README.md). One split by tune (80/10/10, seed 0)
serves every encoding:

* ``grid16``: the 1/16 grid (4 steps per quarter), as data/Melody.txt was
  built until issue 12: only tunes whose rhythm fits it (no triplets);
* ``grid``: the fine grid, every tune: a pitch or ``r`` starts an event,
  ``_`` holds it one more step;
* ``duration``: two tokens per event, the pitch (or ``r``) and its length
  (``d3`` = 3 grid steps), every tune.

Token counts differ, so test loss is compared per **event** (note or rest)
and per **quarter note** of music: the summed negative log-likelihood of a
test tune (every token, the end token included) over its events or its
length. Each tune is scored whole (evaluation windows longer than any tune).
For ``grid16`` both are also given on the triplet-free test tunes, where the
other two are scored as well. Same model for all: embedding 32, LSTM 128,
Adam 3e-3, batch 32, clipping 5, windows that span the same music (64 steps
of the 1/16 grid = 16 quarters: 192 fine-grid tokens; 64 duration tokens).

Then ``--samples`` tunes are sampled from each model (temperature 1) and
compared with the test tunes by :mod:`lstmininet.metrics` (JS divergences
beside the test tunes' own split-half floor). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import lstmininet as lm
from lstmininet.datasets import load_melodies, split_dataset
from lstmininet.melody import HOLD, REST, melody_events
from lstmininet.metrics import HISTOGRAMS, compare_melodies

BOS, EOS = "<s>", "</s>"


# -- encodings: grid tokens at the fine grid <-> each encoding's tokens ------------------------


def on_coarse_grid(melody, factor: int) -> bool:
    return all(length % factor == 0 for _, length in melody_events(melody))


def to_grid(melody, factor: int) -> list[str]:
    """Fine-grid tokens -> a coarser grid (every event length divisible by ``factor``)."""
    tokens = []
    for pitch, length in melody_events(melody):
        tokens += [REST if pitch is None else str(pitch)] + [HOLD] * (length // factor - 1)
    return tokens


def to_durations(melody) -> list[str]:
    tokens = []
    for pitch, length in melody_events(melody):
        tokens += [REST if pitch is None else str(pitch), f"d{length}"]
    return tokens


def from_durations(tokens) -> list[str]:
    """Duration tokens -> fine-grid tokens; a malformed pair (pitch without length, length first) is dropped."""
    melody, pending = [], None
    for token in tokens:
        if token.startswith("d"):
            if pending is not None:
                melody += [pending] + [HOLD] * (int(token[1:]) - 1)
                pending = None
        else:
            pending = token
    return melody


def from_grid(tokens, factor: int) -> list[str]:
    melody = []
    for token in tokens:
        if token == HOLD and not melody:
            token = REST
        if token == HOLD:
            melody += [HOLD] * factor
        else:
            melody += [token] + [HOLD] * (factor - 1)
    return melody


# -- one encoding: train, score, sample --------------------------------------------------------


def run_encoding(name, train, val, test, subset_test, args, grid_factor=None):
    """Train on encoded tunes; test NLL per event and per quarter; samples as fine-grid melodies."""
    encode = to_durations if name == "duration" else (lambda m: to_grid(m, grid_factor))
    decode = from_durations if name == "duration" else (lambda t: from_grid(t, grid_factor))
    vocab = sorted({t for m in train + val + test for t in encode(m)} | {BOS, EOS})
    ids = {t: i for i, t in enumerate(vocab)}

    def sequences(melodies):
        return [[ids[BOS]] + [ids[t] for t in encode(m)] + [ids[EOS]] for m in melodies]

    # Windows spanning 16 quarters on the grids (64 sixteenths); 64 duration tokens are about 32 events.
    seq_len = 64 if name == "duration" else 16 * args.grid // grid_factor
    model = lm.LSTM(len(vocab), hidden_size=128, embedding_dim=32, seed=args.seed)
    start = time.perf_counter()
    model.fit(
        sequences(train),
        val_data=sequences(val) if val else None,
        epochs=args.epochs,
        batch_size=32,
        seq_len=seq_len,
        lr=3e-3,
        clip_norm=5.0,
        seed=args.seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    train_tokens = sum(len(s) for s in sequences(train))

    def nll(melodies):
        data = sequences(melodies)
        result = model.evaluate(data, seq_len=max(len(s) for s in data))
        total = result["loss"] * result["tokens"]
        events = sum(len(melody_events(m)) for m in melodies)
        quarters = sum(len(m) for m in melodies) / args.grid
        return total / events, total / quarters

    row = {
        "name": name,
        "tunes": len(train),
        "tokens_per_event": statistics.fmean(len(encode(m)) / len(melody_events(m)) for m in train),
        "train_tokens": train_tokens,
        "seconds": seconds,
        "test": nll(test) if test else (math.nan, math.nan),
        "subset": nll(subset_test),
    }
    samples = []
    limit = {"duration": 1200}.get(name, 4000 // (grid_factor or 1))
    for k in range(args.samples):
        out = model.generate([ids[BOS]], limit, temperature=1.0, seed=1000 + k, stop_token=ids[EOS])
        melody = decode([vocab[i] for i in out if vocab[i] not in (BOS, EOS)])
        if any(t not in (REST, HOLD) for t in melody):
            samples.append(melody)
    row["samples"] = samples
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="oneills1850", help="a music21 corpus path, score folder or file")
    parser.add_argument("--grid", type=int, default=12, help="fine grid: steps per quarter note")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--max-tunes", type=int, default=None, help="use only the first N tunes (quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.grid % 4:
        parser.error("--grid must be a multiple of 4 (the 1/16 grid is compared too)")
    factor = args.grid // 4

    melodies = load_melodies(args.corpus, steps_per_quarter=args.grid, progress=False, headers=False)  # rhythm only
    unique = list({" ".join(m): m for m in melodies}.values())[: args.max_tunes]
    train, val, test = split_dataset(unique, val_fraction=0.1, test_fraction=0.1, seed=args.seed)
    subset = [[m for m in part if on_coarse_grid(m, factor)] for part in (train, val, test)]
    print(
        f"{len(unique)} tunes at {args.grid} steps per quarter (train {len(train)}, val {len(val)}, test {len(test)}); "
        f"on the 1/16 grid: {sum(map(len, subset))} (test {len(subset[2])})"
    )

    rows = [
        run_encoding("grid16", subset[0], subset[1], [], subset[2], args, grid_factor=factor),
        run_encoding("grid", train, val, test, subset[2], args, grid_factor=1),
        run_encoding("duration", train, val, test, subset[2], args),
    ]
    print(
        "\n| encoding | training tunes | tokens per event | training tokens | training s | "
        "test NLL / event | test NLL / quarter | triplet-free test NLL / event | / quarter |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['name']} | {row['tunes']} | {row['tokens_per_event']:.2f} | {row['train_tokens']:,} | "
            f"{row['seconds']:.0f} | {row['test'][0]:.3f} | {row['test'][1]:.3f} | "
            f"{row['subset'][0]:.3f} | {row['subset'][1]:.3f} |"
        )
    print("\nGenerated vs test tunes (JS divergence, base 2; floor = test tunes' split-half divergence):\n")
    print("| encoding | samples | " + " | ".join(f"{h.replace('_', ' ')} (x floor)" for h in HISTOGRAMS) + " |")
    print("|---|---:|" + "---:|" * len(HISTOGRAMS))
    for row in rows:
        result = compare_melodies(row["samples"], test, args.grid)
        cells = [f"{result.divergence[h]:.4f} ({result.divergence[h] / result.floor[h]:.1f}x)" for h in HISTOGRAMS]
        print(f"| {row['name']} | {len(row['samples'])} | " + " | ".join(cells) + " |")
    floor = compare_melodies(test, test, args.grid).floor
    print("\nfloor: " + ", ".join(f"{h} {floor[h]:.4f}" for h in HISTOGRAMS))


if __name__ == "__main__":
    main()
