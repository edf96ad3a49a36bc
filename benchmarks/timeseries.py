#!/usr/bin/env python3
"""Time-series forecasting, lstmininet vs PyTorch, on real series that statsmodels ships.

    pip install ".[torch,timeseries]"
    python benchmarks/timeseries.py                 # full run (a few minutes), 3 seeds
    python benchmarks/timeseries.py --seeds 0,1,2,3,4,5,6,7,8,9   # the committed table
    python benchmarks/timeseries.py --quick         # smoke run: one series, 1 seed, few epochs

The series (nothing is downloaded; statsmodels carries them):

* ``sunspots``: yearly mean sunspot numbers 1700-2008 (309 values), season 11.
* ``co2``: Mauna Loa CO2, weekly 1958-2001, as monthly means with the few
  gaps interpolated (526 values), season 12. It rises steadily, so the
  test part lies above every training value: the networks model its
  month-to-month changes, and their forecasts are added up again to levels
  (all MSEs are on the levels).

Setup, the same for every network:

* chronological split: the first 80% trains, the last 20% tests; values are
  standardised with the training part's mean and standard deviation
  (``lstmininet.StandardScaler``; lstmininet's regressor keeps it and answers
  in the data's units, the PyTorch models are scaled by hand the same way).
* training windows: every window of ``W`` = 24 consecutive training values
  (stride 1), the target at each step is the next value (one-step-ahead,
  outputs at every step); Adam, lr 5e-3, batch 32, no clipping, the same
  number of epochs for all.
* models with ``H`` = 32: lstmininet ``LSTMRegressor`` and ``GRURegressor``;
  PyTorch ``nn.RNN`` (tanh), ``nn.LSTM``, ``nn.GRU`` (all + ``nn.Linear``)
  and a causal 1-D CNN (dilations 1, 2, 4, 8, kernel 2, H channels; a
  receptive field of 16 steps) of about the LSTM's parameter count.
* one-step test: each test value predicted from the ``W`` true values
  before it. Multi-step test: from every test origin, ``h`` steps ahead
  (the season length) feeding predictions back (recurrent models carry
  their state, the CNN re-reads its last W inputs), MSE over all horizons.
* baselines: naive (the last value) and seasonal-naive (the value one
  season before).

Reported per model: test MSE in the data's units (mean ± sd over seeds)
and normalised (divided by the training variance), and training time.
Results go to ``benchmarks/results/timeseries.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
WINDOW, HIDDEN, BATCH, LR = 24, 32, 32, 5e-3
SERIES = ("sunspots", "co2")


def load_series(name: str) -> tuple[np.ndarray, int, bool]:
    """(values, season length, whether the networks model its first differences) of a series statsmodels ships."""
    import statsmodels.api as sm

    if name == "sunspots":
        return sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64), 11, False
    if name == "co2":
        weekly = sm.datasets.co2.load_pandas().data["co2"]
        return weekly.resample("MS").mean().interpolate().to_numpy(np.float64), 12, True
    raise ValueError(f"unknown series {name!r}")


def windows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (W, 1) input windows of the scaled training values and their next-value targets."""
    n = len(values) - WINDOW
    x = np.stack([values[i : i + WINDOW] for i in range(n)])[:, :, None]
    y = np.stack([values[i + 1 : i + WINDOW + 1] for i in range(n)])[:, :, None]
    return x.astype(np.float32), y.astype(np.float32)


# -- baselines -------------------------------------------------------------------


def naive(series, start, horizon):
    """One-step (horizon 1) or multi-step forecasts from the last value before each origin."""
    return np.array([[series[o - 1]] * horizon for o in range(start, len(series) - horizon + 1)])


def seasonal_naive(series, start, horizon, season):
    out = []
    for o in range(start, len(series) - horizon + 1):
        out.append([series[o + k - season * (k // season + 1)] for k in range(horizon)])
    return np.array(out)


def truth(series, start, horizon):
    return np.array([series[o : o + horizon] for o in range(start, len(series) - horizon + 1)])


# -- lstmininet ------------------------------------------------------------------


def run_lstmininet(cell, raw, split, season, epochs, seed, scaler, torch_init=None):
    import lstmininet

    cls = {"lstm": lstmininet.LSTMRegressor, "gru": lstmininet.GRURegressor}[cell]
    model = cls(1, HIDDEN, 1, 1, seed=seed, scaler=scaler, target_scaler=scaler)
    if torch_init is not None:
        model.load_state_dict(torch_init)
    x, y = windows(raw[:split])  # in data units: the model scales with its scaler
    start = time.perf_counter()
    model.fit(list(x), list(y), epochs=epochs, batch_size=BATCH, seq_len=WINDOW, lr=LR, progress=False, seed=seed)
    seconds = time.perf_counter() - start
    contexts = [raw[o - WINDOW : o, None] for o in range(split, len(raw))]
    one = np.array([p[-1, 0] for p in model.predict(contexts)])
    multi = np.array(
        [model.forecast(raw[o - WINDOW : o, None], season)[:, 0] for o in range(split, len(raw) - season + 1)]
    )
    return one, multi, seconds


# -- PyTorch ---------------------------------------------------------------------


def torch_model(kind: str):
    import torch

    nn = torch.nn

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](1, HIDDEN, 1, batch_first=True)
            self.fc = nn.Linear(HIDDEN, 1)

        def forward(self, x, state=None):
            out, state = self.rnn(x, state)
            return self.fc(out), state

    class CausalCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(
                nn.Conv1d(1 if i == 0 else HIDDEN, HIDDEN, kernel_size=2, dilation=d)
                for i, d in enumerate((1, 2, 4, 8))
            )
            self.fc = nn.Linear(HIDDEN, 1)

        def forward(self, x, state=None):  # x (B, T, 1) -> (B, T, 1), output t sees inputs <= t
            h = x.transpose(1, 2)
            for conv in self.convs:
                h = torch.relu(conv(nn.functional.pad(h, (conv.dilation[0], 0))))
            return self.fc(h.transpose(1, 2)), None

    return CausalCNN() if kind == "cnn" else Recurrent()


def run_torch(kind, scaled, split, season, epochs, seed, scaler):
    import torch

    torch.manual_seed(seed)
    model = torch_model(kind)
    # the initial weights under lstmininet's names (the module calls its RNN "rnn")
    init = {k.replace("rnn.", f"{kind}.", 1): v.detach().numpy().copy() for k, v in model.state_dict().items()}
    x, y = (torch.from_numpy(a) for a in windows(scaled[:split]))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad(set_to_none=True)
            out, _ = model(x[idx])
            torch.nn.functional.mse_loss(out, y[idx]).backward()
            opt.step()
    seconds = time.perf_counter() - start
    model.eval()
    series = torch.from_numpy(scaled.astype(np.float32))
    with torch.no_grad():
        ctx = torch.stack([series[o - WINDOW : o] for o in range(split, len(scaled))])[:, :, None]
        one = model(ctx)[0][:, -1, 0].numpy()
        multi = []
        for o in range(split, len(scaled) - season + 1):
            hist = series[o - WINDOW : o][None, :, None]
            out, state = model(hist)
            preds = [out[0, -1, 0]]
            for _ in range(season - 1):
                nxt = preds[-1].reshape(1, 1, 1)
                if kind == "cnn":  # no state: slide the window
                    hist = torch.cat([hist[:, 1:], nxt], dim=1)
                    out, _ = model(hist)
                else:
                    out, state = model(nxt, state)
                preds.append(out[0, -1, 0])
            multi.append(torch.stack(preds).numpy())
    unscale = lambda a: scaler.inverse_transform(np.asarray(a, np.float64)[..., None])[..., 0]  # noqa: E731
    return unscale(one), unscale(np.array(multi)), seconds, init


# -- driver ----------------------------------------------------------------------


def evaluate_series(name, seeds, epochs, threads):
    import torch

    import lstmininet

    torch.set_num_threads(threads)
    lstmininet.set_num_threads(threads)
    raw, season, differenced = load_series(name)
    split = int(len(raw) * 0.8)
    train_var = float(np.var(raw[:split]))
    # What the networks see: the values, or for a trending series the steps
    # d[i] = raw[i + 1] - raw[i] (a trend would put the test part outside
    # everything seen in training). Predicting raw[o] is predicting d[o - 1].
    series = np.diff(raw) if differenced else raw
    split_s = split - 1 if differenced else split
    scaler = lstmininet.StandardScaler().fit([series[:split_s, None]])
    scaled = scaler.transform(series[:, None])[:, 0].astype(np.float64)

    def to_levels(one, multi):
        if not differenced:
            return one, multi
        before = raw[split - 1 : len(raw) - 1]  # the last known value at each origin
        return before + one, before[: len(multi), None] + np.cumsum(multi, axis=1)

    one_true, multi_true = truth(raw, split, 1)[:, 0], truth(raw, split, season)
    rows: dict[str, dict[str, list]] = {}

    def record(model, one, multi, seconds):
        r = rows.setdefault(model, {"one": [], "multi": [], "seconds": []})
        r["one"].append(float(np.mean((one - one_true) ** 2)))
        r["multi"].append(float(np.mean((multi - multi_true) ** 2)))
        r["seconds"].append(seconds)

    record("naive", naive(raw, split, 1)[:, 0], naive(raw, split, season), 0.0)
    record(
        "seasonal naive", seasonal_naive(raw, split, 1, season)[:, 0], seasonal_naive(raw, split, season, season), 0.0
    )
    for seed in seeds:
        inits = {}
        for kind in ("rnn", "lstm", "gru", "cnn"):
            one, multi, seconds, inits[kind] = run_torch(kind, scaled, split_s, season, epochs, seed, scaler)
            record(f"PyTorch {kind.upper() if kind != 'cnn' else '1-D CNN'}", *to_levels(one, multi), seconds)
            print(f"  {name} seed {seed}: PyTorch {kind} done ({seconds:.1f} s)", file=sys.stderr)
        for cell in ("lstm", "gru"):
            one, multi, seconds = run_lstmininet(cell, series, split_s, season, epochs, seed, scaler)
            record(f"lstmininet {cell.upper()}", *to_levels(one, multi), seconds)
            one, multi, seconds = run_lstmininet(cell, series, split_s, season, epochs, seed, scaler, inits[cell])
            record(f"lstmininet {cell.upper()} (PyTorch's initial weights)", *to_levels(one, multi), seconds)
            print(f"  {name} seed {seed}: lstmininet {cell} done ({seconds:.1f} s)", file=sys.stderr)
    return dict(
        series=name,
        length=len(raw),
        train=split,
        season=season,
        differenced=differenced,
        train_variance=train_var,
        rows=rows,
    )


def cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary(values):
    return (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)


def markdown(results, settings) -> str:
    lines = [
        f"Settings: {settings}. MSE mean ± sd over seeds; normalised = MSE / variance of the training part.",
        "",
    ]
    for res in results:
        var = res["train_variance"]
        lines += [
            f"### {res['series']} ({res['length']} values, train {res['train']}, test {res['length'] - res['train']}, "
            f"multi-step horizon {res['season']}"
            + ("; the networks model month-to-month changes" if res["differenced"] else "")
            + ")",
            "",
            "| model | one-step MSE | normalised | multi-step MSE | normalised | training s |",
            "|---|---|---|---|---|---|",
        ]
        for model, r in res["rows"].items():
            (o, osd), (m, msd), (s, _) = summary(r["one"]), summary(r["multi"]), summary(r["seconds"])
            lines.append(
                f"| {model} | {o:.4g} ± {osd:.2g} | {o / var:.3g} | {m:.4g} ± {msd:.2g} | {m / var:.3g} | "
                + (f"{s:.2f} |" if s > 0 else "– |")
            )
        lines.append("")
    return "\n".join(lines)


def comma_list(item_type):
    """An argparse type: a comma list of item_type, each checked, none empty or repeated."""

    def parse(text: str) -> list:
        items = [item_type(item) for item in text.split(",")]
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"{text!r} repeats an item")
        return items

    return parse


def series_name(text: str) -> str:
    if text not in SERIES:
        raise argparse.ArgumentTypeError(f"unknown series {text!r} (choose from {', '.join(SERIES)})")
    return text


def count(minimum: int, maximum: int | None = None):
    """An argparse type: an integer in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is above {maximum}")
        return value

    return parse


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--series",
        type=comma_list(series_name),
        default=None,
        help="comma list of sunspots, co2 (default: both; --quick: sunspots)",
    )
    ap.add_argument("--seeds", type=comma_list(count(0)), default=None, help="comma list (default 0,1,2; --quick: 0)")
    ap.add_argument("--epochs", type=count(1), default=None, help="default 60 (--quick: 3)")
    ap.add_argument("--threads", type=count(1, 1024), default=1, help="threads for both libraries (default 1)")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="defaults sunspots, seed 0, 3 epochs (explicit --series, --seeds, --epochs still apply); results are "
        "not written",
    )
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    args = ap.parse_args(argv)
    quick = dict(series=["sunspots"], seeds=[0], epochs=3) if args.quick else {}
    full = dict(series=list(SERIES), seeds=[0, 1, 2], epochs=60)
    for name, default in full.items():
        if getattr(args, name) is None:
            setattr(args, name, quick.get(name, default))
    load = os.getloadavg()[0]
    results = [evaluate_series(s, args.seeds, args.epochs, args.threads) for s in args.series]
    settings = (
        f"window {WINDOW}, hidden {HIDDEN}, 1 layer, batch {BATCH}, Adam lr {LR}, {args.epochs} epochs, "
        f"seeds {','.join(map(str, args.seeds))}, {args.threads} thread(s), {cpu_name()}, "
        f"1-min load average at the start {load:.1f}"
    )
    text = markdown(results, settings)
    print(text)
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "timeseries.md").write_text(text + "\n")
        (args.out / "timeseries.json").write_text(json.dumps(dict(settings=settings, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
