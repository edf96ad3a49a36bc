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
from lstmininet.melody import HOLD, REST, change_grid, melody_events
from lstmininet.metrics import HISTOGRAMS, compare_melodies
from lstmininet.tokenizers import MelodyTokenizer


def coarse(melody, grid: int):
    """The melody on the 1/16 grid, None if a note falls between its steps (a triplet)."""
    return change_grid(melody, grid, 4).tokens


def run_encoding(name, train, val, test, subset_test, args):
    """Train on encoded tunes; test NLL per event and per quarter; samples as fine-grid melodies.

    ``grid16`` tunes are on the 1/16 grid (and its samples are moved back to the fine grid);
    the others are on the fine grid. The tokenizer does every encoding and decoding.
    """
    grid = 4 if name == "grid16" else args.grid
    encoding = "duration" if name == "duration" else "grid"
    tokenizer = MelodyTokenizer.build(train + val + test, add_bos_eos=True, steps_per_quarter=grid, encoding=encoding)

    def sequences(melodies):
        return [tokenizer.encode_melody(m) for m in melodies]

    # Windows spanning 16 quarters on the grids (64 sixteenths); 64 duration tokens are about 32 events.
    seq_len = 64 if name == "duration" else 16 * grid
    model = lm.LSTM(len(tokenizer), hidden_size=128, embedding_dim=32, seed=args.seed)
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
        quarters = sum(len(m) for m in melodies) / grid
        return total / events, total / quarters

    row = {
        "name": name,
        "tunes": len(train),
        "tokens_per_event": statistics.fmean(len(tokenizer.melody_tokens(m)) / len(melody_events(m)) for m in train),
        "train_tokens": train_tokens,
        "seconds": seconds,
        "test": nll(test) if test else (math.nan, math.nan),
        "subset": nll(subset_test),
    }
    samples = []
    limit = {"duration": 1200}.get(name, 4000 * grid // args.grid)
    primer = tokenizer.encode_primer([])
    stop = tokenizer.encode(["</s>"])[0]
    for k in range(args.samples):
        out = model.generate(primer, limit, temperature=1.0, seed=1000 + k, stop_token=stop)
        melody = tokenizer.decode_melody(primer + out)
        if any(t not in (REST, HOLD) for t in melody):
            samples.append(change_grid(melody, grid, args.grid).tokens)
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

    melodies = load_melodies(args.corpus, steps_per_quarter=args.grid, progress=False, headers=False)  # rhythm only
    unique = list({" ".join(m): m for m in melodies}.values())[: args.max_tunes]
    train, val, test = split_dataset(unique, val_fraction=0.1, test_fraction=0.1, seed=args.seed)
    subset = [[m for m in part if coarse(m, args.grid) is not None] for part in (train, val, test)]
    print(
        f"{len(unique)} tunes at {args.grid} steps per quarter (train {len(train)}, val {len(val)}, test {len(test)}); "
        f"on the 1/16 grid: {sum(map(len, subset))} (test {len(subset[2])})"
    )

    on_16 = [[coarse(m, args.grid) for m in part] for part in subset]
    rows = [
        run_encoding("grid16", on_16[0], on_16[1], [], on_16[2], args),
        run_encoding("grid", train, val, test, subset[2], args),
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
