#!/usr/bin/env python3
"""Which melody encoding models O'Neill's tunes best: 1/16 grid, 12-per-quarter grid, or pitch + duration tokens.

    python benchmarks/encodings.py                     # all three, 3 seeds (tens of minutes)
    python benchmarks/encodings.py --seeds 1 --epochs 2 --samples 20 --max-tunes 200   # a quick look

The corpus is music21's ``oneills1850`` loaded with the library's defaults:
12 steps per quarter (holds triplets), the few notes finer than that
rounded (see data/README.md), each tune opening with its meter and key
tokens; exact duplicates are kept once, as in data/Melody.txt. Seed ``s``
splits the tunes 80/10/10 (``split_dataset(..., seed=s)``), seeds the
models and their samples; every encoding sees that split:

* ``grid16``: the 1/16 grid (4 steps per quarter), as data/Melody.txt was
  built until issue 12: only tunes whose rhythm fits it (no triplets);
* ``grid``: the fine grid, every tune: a pitch or ``r`` starts an event,
  ``_`` holds it one more step;
* ``duration``: two tokens per event, the pitch (or ``r``) and its length
  (``d3`` = 3 grid steps), every tune.

Token counts differ, so test loss is compared per **event** (note or rest)
and per **quarter note** of music: the summed negative log-likelihood of a
test tune (every token, the header and end tokens included) over its events
or its length. Each tune is scored whole (evaluation windows longer than any
tune). For ``grid16`` both are also given on the triplet-free test tunes,
where the other two are scored as well. The model and training are those of
``lstmininet train`` (one-hot input unless ``--embedding``, LSTM 128, Adam
3e-3, batch 32, clipping 5, up to ``--epochs`` 50, stopping after ``--patience`` 3
epochs without a better loss on the validation tunes and keeping the best
epoch's weights); windows span the same music
(64 steps of the 1/16 grid = 16 quarters: 192 fine-grid tokens; 64 duration
tokens, the CLI's window).

Then ``--samples`` tunes are sampled from each model as ``lstmininet
generate`` does (temperature 1, from ``<s>``, the model writes the header
too, up to ``--length`` duration tokens or the same length of music on the
grids) and compared with the test tunes by :mod:`lstmininet.metrics` (JS
divergences beside the test tunes' own split-half floor). With several
``--seeds`` each number is the mean over seeds with its range (min-max).
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import lstmininet as lm
from lstmininet.datasets import load_melodies, split_dataset
from lstmininet.melody import change_grid, melody_events
from lstmininet.metrics import HISTOGRAMS, compare_melodies
from lstmininet.tokenizers import MelodyTokenizer
from lstmininet.tune_header import split_header

ENCODINGS = ("grid16", "grid", "duration")


def coarse(melody, grid: int):
    """The melody on the 1/16 grid, None if a note falls between its steps (a triplet)."""
    return change_grid(melody, grid, 4).tokens


def sample_limit(name: str, grid: int, length: int) -> int:
    """Tokens to sample: ``length`` duration tokens, or about as much music on a grid (an eighth per token pair)."""
    if name == "duration":
        return length
    steps_per_event = 6 * grid / 12  # mean event: an eighth note
    return int(length / 2 * steps_per_event)


def run_encoding(name, train, val, test, subset_test, args, seed):
    """Train on encoded tunes; test NLL per event and per quarter; samples as fine-grid melodies.

    ``grid16`` tunes (``subset_test`` too) are on the 1/16 grid, and its samples are moved back
    to the fine grid; the others are on the fine grid. The tokenizer does every encoding and decoding.
    """
    grid = 4 if name == "grid16" else args.grid
    encoding = "duration" if name == "duration" else "grid"
    # Every tune it scores, so that a meter or key only test tunes have is in the vocabulary.
    tokenizer = MelodyTokenizer.build(
        train + val + test + subset_test, add_bos_eos=True, steps_per_quarter=grid, encoding=encoding
    )

    def sequences(melodies):
        return [tokenizer.encode_melody(m) for m in melodies]

    # Windows spanning 16 quarters on the grids (64 sixteenths); 64 duration tokens are about 32 events.
    seq_len = 64 if name == "duration" else 16 * grid
    model = lm.LSTM(len(tokenizer), hidden_size=128, embedding_dim=args.embedding, seed=seed)
    start = time.perf_counter()
    history = model.fit(
        sequences(train),
        val_data=sequences(val) if val else None,
        epochs=args.epochs,
        patience=args.patience or None,
        batch_size=32,
        seq_len=seq_len,
        lr=3e-3,
        clip_norm=5.0,
        seed=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start

    def nll(melodies):
        data = sequences(melodies)
        result = model.evaluate(data, seq_len=max(len(s) for s in data))
        total = result["loss"] * result["tokens"]
        events = sum(len(melody_events(m)) for m in melodies)
        quarters = sum(len(split_header(m)[1]) for m in melodies) / grid
        return total / events, total / quarters

    limit = sample_limit(name, grid, args.length)
    primer = tokenizer.encode_primer([])
    stop = tokenizer.encode(["</s>"])[0]
    outputs = model.generate(primer, limit, temperature=1.0, seed=seed, stop_token=stop, num_samples=args.samples)
    samples = []
    for out in outputs:
        melody = tokenizer.decode_melody(primer + out)
        if split_header(melody)[1]:  # the model may end a tune at once
            samples.append(change_grid(melody, grid, args.grid).tokens)
    return {
        "name": name,
        "tunes": len(train),
        "tokens_per_event": statistics.fmean(len(tokenizer.melody_tokens(m)) / len(melody_events(m)) for m in train),
        "train_tokens": sum(len(s) for s in sequences(train)),
        "seconds": seconds,
        "kept_epoch": history.best_epoch if history.stopped_early else history["epoch"][-1],
        "test": nll(test) if test else (math.nan, math.nan),
        "subset": nll(subset_test),
        "samples": len(samples),
        "unfinished": sum(1 for out in outputs if len(out) == limit and out[-1] != stop),
        "sampled": samples,
    }


def run_seed(unique, args, seed):
    """One split, every encoding trained and sampled on it; returns one row per encoding."""
    train, val, test = split_dataset(unique, val_fraction=0.1, test_fraction=0.1, seed=seed)
    subset = [[m for m in part if coarse(m, args.grid) is not None] for part in (train, val, test)]
    print(
        f"seed {seed}: train {len(train)}, val {len(val)}, test {len(test)} tunes; "
        f"on the 1/16 grid: {sum(map(len, subset))} (test {len(subset[2])})",
        flush=True,
    )
    rows = []
    for name in args.encodings:
        if name == "grid16":
            on_16 = [[coarse(m, args.grid) for m in part] for part in subset]
            row = run_encoding(name, on_16[0], on_16[1], [], on_16[2], args, seed)
        else:
            row = run_encoding(name, train, val, test, subset[2], args, seed)
        # Every encoding's samples (on the fine grid) against all test tunes.
        row["comparison"] = compare_melodies(row.pop("sampled"), test, args.grid)
        ratios = {h: row["comparison"].divergence[h] / row["comparison"].floor[h] for h in HISTOGRAMS}
        print(
            f"  {name}: {row['seconds']:.0f} s, weights of epoch {row['kept_epoch']}, "
            f"test NLL/event {row['test'][0]:.3f}, "
            f"triplet-free {row['subset'][0]:.3f}; {row['samples']} samples ({row['unfinished']} unfinished); "
            + ", ".join(f"{h} {ratios[h]:.1f}x" for h in HISTOGRAMS),
            flush=True,
        )
        rows.append(row)
    return rows


def spread(values, digits: int, suffix: str = "") -> str:
    """Mean, and the range over seeds when there are several."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    mean = f"{statistics.fmean(values):.{digits}f}{suffix}"
    if len(values) == 1:
        return mean
    return f"{mean} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="oneills1850", help="a music21 corpus path, score folder or file")
    parser.add_argument("--grid", type=int, default=12, help="fine grid: steps per quarter note")
    parser.add_argument("--epochs", type=int, default=50, help="as lstmininet train")
    parser.add_argument("--patience", type=int, default=3, help="as lstmininet train (0: every epoch)")
    parser.add_argument("--embedding", type=int, default=None, help="embedding size (default: one-hot, as the CLI)")
    parser.add_argument("--samples", type=int, default=200, help="tunes sampled per encoding and seed")
    parser.add_argument("--length", type=int, default=2000, help="most duration tokens sampled per tune")
    parser.add_argument("--max-tunes", type=int, default=None, help="use only the first N tunes (quick runs)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds (splits, models, samples) to average over")
    parser.add_argument("--encodings", nargs="+", choices=ENCODINGS, default=list(ENCODINGS))
    parser.add_argument("--no-headers", action="store_true", help="tunes without their meter and key tokens")
    args = parser.parse_args(argv)
    if args.grid % 4:
        parser.error("--grid must be a multiple of 4 (the 1/16 grid is compared too)")

    melodies = load_melodies(args.corpus, steps_per_quarter=args.grid, progress=False, headers=not args.no_headers)
    unique = list({" ".join(m): m for m in melodies}.values())[: args.max_tunes]
    print(f"{len(unique)} tunes at {args.grid} steps per quarter; options: {vars(args)}")
    seeds = range(args.seed, args.seed + args.seeds)
    runs = [run_seed(unique, args, seed) for seed in seeds]
    by_name = {name: [rows[i] for rows in runs] for i, name in enumerate(args.encodings)}

    over = f" over {args.seeds} seeds, mean (min–max)" if args.seeds > 1 else ""
    print(f"\nTest loss{over}:\n")
    print(
        "| encoding | training tunes | tokens per event | training tokens | training s | "
        "test NLL / event | test NLL / quarter | triplet-free test NLL / event | / quarter |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rows in by_name.items():
        cells = [
            spread([r["tunes"] for r in rows], 0),
            spread([r["tokens_per_event"] for r in rows], 2),
            spread([r["train_tokens"] for r in rows], 0),
            spread([r["seconds"] for r in rows], 0),
            *(spread([r[part][i] for r in rows], 3) for part in ("test", "subset") for i in (0, 1)),
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print(f"\nGenerated vs test tunes{over} (JS divergence, base 2, as a multiple of the floor = test tunes' ")
    print("split-half divergence; then the divergence and the floor themselves):\n")
    print(
        "| encoding | samples (unfinished) | "
        + " | ".join(f"{h.replace('_', ' ')} (x floor)" for h in HISTOGRAMS)
        + " | duration divergence | duration floor | notes per tune (test) |"
    )
    print("|---|---:|" + "---:|" * (len(HISTOGRAMS) + 3))
    for name, rows in by_name.items():
        results = [r["comparison"] for r in rows]
        cells = [f"{spread([r['samples'] for r in rows], 0)} ({sum(r['unfinished'] for r in rows)})"]
        cells += [spread([c.divergence[h] / c.floor[h] for c in results], 1, "x") for h in HISTOGRAMS]
        generated, held_out = (spread([c.notes_per_tune[i] for c in results], 0) for i in (0, 1))
        cells += [
            spread([c.divergence["duration"] for c in results], 4),
            spread([c.floor["duration"] for c in results], 4),
            f"{generated} ({held_out})",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
