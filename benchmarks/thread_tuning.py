#!/usr/bin/env python3
"""Training speed of the melody LSTM, idle and with competing busy processes, with and without the thread tuner.

    python benchmarks/thread_tuning.py              # idle, then 1 busy process; ~1 minute
    python benchmarks/thread_tuning.py --busy 0,1,2 --seconds 6

For each load: tokens/s of fit() at 1 thread, at 2 threads with fit(tune_threads=False), and at 2
threads with the tuner (the default). The busy processes are Python spin loops, started before and
killed after each load's measurements. Each fit() trains on fresh random windows for about
--seconds at the idle one-thread speed (B 64, T 64, Adam, clipping 5.0), after a short warm-up fit.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench import busy_process, count_list, exit_on_sigterm, stop_processes  # benchmarks/bench.py, beside this script

import lstmininet as lm

TOKENS_PER_STEP = 64 * 64


def tokens_per_second(threads: int, tune: bool, steps: int) -> float:
    lm.set_num_threads(threads)
    model = lm.LSTM(38, hidden_size=128, num_layers=1, embedding_dim=38, seed=0)
    rng = np.random.default_rng(0)
    options = dict(epochs=1, batch_size=64, seq_len=64, lr=1e-3, clip_norm=5.0, progress=False, tune_threads=tune)
    model.fit(rng.integers(0, 38, size=(64 * 3, 65)).tolist(), **options)
    windows = rng.integers(0, 38, size=(64 * steps, 65)).tolist()
    start = time.perf_counter()
    model.fit(windows, **options)
    return steps * TOKENS_PER_STEP / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--busy",
        type=count_list(0, "busy process counts"),
        default="0,1",
        help="comma list of competing busy process counts",
    )
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)
    exit_on_sigterm()  # so the finally below stops the busy processes on SIGTERM too
    steps = max(10, int(args.seconds * 300_000 / TOKENS_PER_STEP))
    print("| busy processes | 1 thread | 2 threads, tune_threads=False | 2 threads, tuned (default) |")
    print("|---:|---:|---:|---:|")
    for load in args.busy:
        hogs = []
        try:  # started inside the try: an error or SIGTERM while starting them still stops them
            for _ in range(load):
                hogs.append(busy_process())
            time.sleep(0.3)
            rates = [tokens_per_second(t, tune, steps) for t, tune in ((1, False), (2, False), (2, True))]
        finally:
            stop_processes(hogs)
        print(f"| {load} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |", flush=True)


if __name__ == "__main__":
    main()
