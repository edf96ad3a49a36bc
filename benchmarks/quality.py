#!/usr/bin/env python3
"""The melody-LSTM article's setup, lstmininet beside PyTorch on the very same windows, with n-gram baselines.

    python benchmarks/quality.py                      # full size: Essen erk, 10 epochs, 3 seeds (minutes)
    python benchmarks/quality.py --epochs 1 --seeds 1 --max-songs 150   # a quick look

Setup (the article's): music21's Essen collection ``essenFolksong/erk*.abc``
on the 1/16 grid (songs with rhythms off the grid skipped), split 80/10/10
by song (seed 0); each song wrapped in ``<s>`` ... ``</s>``, a split's
songs joined into one stream and cut into windows of 64 inputs (65 tokens,
stride 64). Model: embedding (``--embedding``) -> LSTM 128 -> dropout 0.2 ->
linear; Adam 1e-3, batch 64, no clipping, ``--epochs`` epochs over the
training windows, each library shuffling with its own generator.

Rows, each over ``--seeds`` seeds (mean and spread of the test NLL in nats
per token, the mean cross-entropy over all test windows):

* ``pytorch``: PyTorch 2.13.0 with its own default initialisation;
* ``lstmininet``: lstmininet with its own default initialisation;
* ``lstmininet, PyTorch's init``: lstmininet started from the PyTorch
  model's initial weights (the trainers compared on a shared start);
* with ``--init-variants``, lstmininet started from candidate initial
  weights drawn in numpy (seeded): PyTorch's scheme (embedding N(0, 1),
  LSTM and linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases too), and
  Xavier and PyTorch's scheme each with the forget-gate bias at 1. This is
  how the token models' default was chosen: Xavier weights, zero biases
  (20 seeds, README "Musical evaluation"); regressors start from PyTorch's
  scheme, which benchmarks/timeseries.py measured better for them;
* n-gram baselines (orders 3 and 5), Witten-Bell interpolated back-off
  estimated on the training stream, context limited to the window like the
  networks'.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import Counter, defaultdict

import numpy as np

import lstmininet as lm
from lstmininet.datasets import load_melodies, split_dataset
from lstmininet.tokenizers import MelodyTokenizer

WINDOW = 64


def windows_of(sequences: list[list[int]]) -> list[list[int]]:
    stream = [token for sequence in sequences for token in sequence]
    return [stream[i : i + WINDOW + 1] for i in range(0, len(stream) - WINDOW, WINDOW)]


# -- PyTorch --------------------------------------------------------------------------------


def torch_model(vocab: int, embedding: int, seed: int):
    import torch
    from torch import nn

    class MelodyLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embedding)
            self.lstm = nn.LSTM(embedding, 128, batch_first=True)
            self.dropout = nn.Dropout(0.2)
            self.fc = nn.Linear(128, vocab)

        def forward(self, x):
            out, _ = self.lstm(self.embedding(x))
            return self.fc(self.dropout(out))

    torch.manual_seed(seed)
    # One thread: this script measures quality, not speed, and on a shared machine two threads can stall.
    torch.set_num_threads(1)
    return MelodyLSTM()


def train_torch(model, train, epochs: int, seed: int) -> None:
    import torch

    data = torch.tensor(train, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(data), generator=generator).split(64):
            x, y = data[batch, :-1], data[batch, 1:]
            optimizer.zero_grad()
            loss = loss_fn(model(x).reshape(-1, model.fc.out_features), y.reshape(-1))
            loss.backward()
            optimizer.step()


def torch_nll(model, test) -> float:
    import torch

    model.eval()
    data = torch.tensor(test, dtype=torch.long)
    with torch.no_grad():
        logits = model(data[:, :-1])
        return float(torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), data[:, 1:].reshape(-1)))


# -- lstmininet -----------------------------------------------------------------------------------


def lstmininet_run(vocab, embedding, train, test, epochs, seed, start_from=None) -> float:
    model = lm.LSTM(vocab, hidden_size=128, embedding_dim=embedding, dropout=0.2, seed=seed)
    if start_from is not None:
        model.load_state_dict({k: v for k, v in start_from.items()})
    model.fit(train, epochs=epochs, batch_size=64, seq_len=WINDOW, lr=1e-3, seed=seed, progress=False)
    return model.evaluate(test, seq_len=WINDOW)["loss"]


def torch_scheme(shapes: dict, seed: int) -> dict:
    """PyTorch's default scheme, drawn with numpy: embedding N(0, 1), the rest U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    rng = np.random.default_rng(seed)
    hidden = shapes["lstm.weight_hh_l0"][1]
    state = {}
    for name, shape in shapes.items():
        if name == "embedding.weight":
            state[name] = rng.standard_normal(shape)
        else:
            bound = 1 / math.sqrt(hidden if name.startswith("lstm.") else shapes["fc.weight"][1])
            state[name] = rng.uniform(-bound, bound, shape)
    return {k: v.astype(np.float32) for k, v in state.items()}


def xavier_scheme(shapes: dict, seed: int) -> dict:
    """Xavier-uniform per weight (per gate block for the LSTM), zero biases, drawn with numpy."""
    rng = np.random.default_rng(seed)
    hidden = shapes["lstm.weight_hh_l0"][1]
    state = {}
    for name, shape in shapes.items():
        if "bias" in name:
            state[name] = np.zeros(shape)
            continue
        rows = hidden if name.startswith("lstm.") else shape[0]
        bound = math.sqrt(6 / (rows + shape[1]))
        state[name] = rng.uniform(-bound, bound, shape)
    return {k: v.astype(np.float32) for k, v in state.items()}


def forget_bias_one(state: dict) -> dict:
    """The same weights with the forget gate's bias at 1 (gate order i, f, g, o)."""
    state = {k: v.copy() for k, v in state.items()}
    hidden = state["lstm.weight_hh_l0"].shape[1]
    state["lstm.bias_ih_l0"][hidden : 2 * hidden] = 1.0
    state["lstm.bias_hh_l0"][hidden : 2 * hidden] = 0.0
    return state


# -- n-grams ----------------------------------------------------------------------------------------


class WittenBell:
    """Interpolated Witten-Bell n-gram model over token ids (add-one unigram at the bottom)."""

    def __init__(self, order: int, vocab: int, train_windows: list[list[int]]):
        self.order, self.vocab = order, vocab
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        for window in train_windows:
            for i in range(1, len(window)):
                for n in range(order):
                    if i - n < 0:
                        break
                    self.counts[tuple(window[i - n : i])][window[i]] += 1

    def prob(self, context: tuple, token: int) -> float:
        counts = self.counts.get((), Counter())
        p = (counts[token] + 1) / (sum(counts.values()) + self.vocab)
        for n in range(1, min(self.order - 1, len(context)) + 1):
            counts = self.counts.get(context[len(context) - n :])
            if not counts:
                break
            total, types = sum(counts.values()), len(counts)
            p = (counts[token] + types * p) / (total + types)
        return p

    def nll(self, windows: list[list[int]]) -> float:
        total, n = 0.0, 0
        for window in windows:
            for i in range(1, len(window)):
                total -= math.log(self.prob(tuple(window[max(0, i - self.order + 1) : i]), window[i]))
                n += 1
        return total / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="essenFolksong/erk*.abc")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--embedding", type=int, default=64)
    parser.add_argument("--init-variants", action="store_true", help="also candidate initialisations (see above)")
    parser.add_argument("--max-songs", type=int, default=None, help="use only the first N songs (quick runs)")
    args = parser.parse_args(argv)

    # The article's tokens: notes, rests and holds, no meter/key header; songs off the 1/16 grid left out.
    songs = load_melodies(args.corpus, steps_per_quarter=4, off_grid="skip", progress=False, headers=False)
    songs = songs[: args.max_songs]
    train_songs, _, test_songs = split_dataset(songs, val_fraction=0.1, test_fraction=0.1, seed=0)
    tokenizer = MelodyTokenizer.build(
        songs, add_bos_eos=True, steps_per_quarter=4, encoding="grid"
    )  # the article's tokens
    vocab = len(tokenizer)
    train = windows_of([tokenizer.encode_melody(s) for s in train_songs])
    test = windows_of([tokenizer.encode_melody(s) for s in test_songs])
    print(
        f"{args.corpus}: {len(songs)} songs (train {len(train_songs)}, test {len(test_songs)}), vocabulary {vocab}; "
        f"{len(train)} training windows, {len(test)} test windows of {WINDOW}; {args.epochs} epochs, "
        f"{args.seeds} seeds"
    )
    results: dict[str, list[float]] = defaultdict(list)
    seconds: dict[str, float] = defaultdict(float)
    for seed in range(args.seeds):
        start = time.perf_counter()
        reference = torch_model(vocab, args.embedding, seed)
        initial = {k: v.detach().clone().numpy() for k, v in reference.state_dict().items()}
        train_torch(reference, train, args.epochs, seed)
        results["pytorch"].append(torch_nll(reference, test))
        seconds["pytorch"] += time.perf_counter() - start
        runs = [("lstmininet", None), ("lstmininet, PyTorch's init", initial)]
        if args.init_variants:
            own = lm.LSTM(vocab, hidden_size=128, embedding_dim=args.embedding, dropout=0.2, seed=seed).state_dict()
            shapes = {k: v.shape for k, v in own.items()}
            runs += [
                ("lstmininet, PyTorch's scheme (numpy)", torch_scheme(shapes, seed)),
                ("lstmininet, Xavier + forget bias 1", forget_bias_one(xavier_scheme(shapes, seed))),
                ("lstmininet, PyTorch's scheme + forget bias 1", forget_bias_one(torch_scheme(shapes, seed))),
            ]
        for name, start_from in runs:
            start = time.perf_counter()
            results[name].append(lstmininet_run(vocab, args.embedding, train, test, args.epochs, seed, start_from))
            seconds[name] += time.perf_counter() - start
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in results.items()), flush=True)
    for order in (3, 5):
        results[f"{order}-gram (Witten-Bell)"].append(WittenBell(order, vocab, train).nll(test))

    print("\n| model | test NLL (nats/token), mean | min – max | seeds | training s (all seeds) |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        spread = f"{min(values):.4f} – {max(values):.4f}" if len(values) > 1 else ""
        time_text = f"{seconds[name]:.0f}" if name in seconds else ""
        print(f"| {name} | {statistics.fmean(values):.4f} | {spread} | {len(values)} | {time_text} |")


if __name__ == "__main__":
    main()
