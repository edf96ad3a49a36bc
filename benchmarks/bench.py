#!/usr/bin/env python3
"""LSTMiniNet vs PyTorch on the CPU: training and generation throughput, side by side.

One command runs both libraries on the same machine, at the same thread
counts, on the same model and data shapes, and reports ratios:

    python benchmarks/bench.py                      # full run, a few minutes
    python benchmarks/bench.py --quick              # smoke run, well under a minute
    python benchmarks/bench.py --cells lstm --threads 1,2 --configs melody,char
    python benchmarks/bench.py --out /tmp/elsewhere
    python benchmarks/bench.py --repeat 3            # best of 3, sides alternating (busy machine)

Results go to ``<out>/bench.json`` (everything, including per-step times)
and ``<out>/bench.md`` (tables); ``<out>`` is ``benchmarks/results/<cpu>/``
by default (``<cpu>`` names the brand, microarchitecture and x86
family/model, e.g. ``amd-epyc-zen5-f26m2``, and the L3 size when the brand
has no model number, as ``amd-epyc-zen3-f25m1-l3-32m``: Milan and Milan-X
differ only there; folders named before that keep serving the CPU they
came from, see ``cpu_folder``; where no reliable name can be made, a
generic virtual CPU or no model name, ``--cpu-name NAME`` is required), with subfolders ``quick/``,
``busy<N>/`` and ``busy<N>/quick/`` for ``--quick`` and ``--busy N`` runs,
so each CPU and each kind of run keeps its own results. Stored results are
replaced only by a run that measures at least what they hold, so a partial
run never silently replaces a full set:

* a folder holding another CPU's results is never written to;
* a run that would not measure every config/cell/thread count, side and the
  quality phase of the stored results, or is of another kind (quick, busy),
  is refused before it starts, unless ``--force``;
* a run with failures writes ``bench-failed.json``/``bench-failed.md``
  beside the stored results instead, unless ``--force``;
* stored results that cannot be read (cut short, not a file, a bench.md
  without its bench.json) are refused naming the file, unless ``--force``.

Files are replaced atomically. Progress goes to stderr.

What is measured, for each config x cell x thread count x library:

* training: embedding -> LSTM/GRU -> linear, cross-entropy over all
  positions, backward, global-norm clipping at 5.0, Adam step (lr 1e-3),
  on random tokens; tokens/s = batch * seq * steps / time of the timed
  steps (warm-up steps are run first and not timed).
* achieved GFLOP/s of the matmuls in training (formula in
  ``train_matmul_flops_per_token``) and its percentage of the SGEMM peak
  measured in the same run at the same thread count (the best of numpy's
  and torch's float32 matmul on square matrices; at n threads the best
  figure measured at <= n threads, since a lower one was disturbed).
* generation: batch 1, one token at a time, hidden state carried, sampling
  from softmax(logits / 1.0). lstmininet: ``m.generate`` (its loop is in
  C++); PyTorch: the usual Python loop over single steps. Each side times
  one call sized to last about ``--gen-time`` from the rate of the calls
  before it (a short warm-up, then calibration calls of a tenth of that).
* lstmininet generation at the memory roofline: float32, bfloat16 and
  int8 weights x N = 1 and 16 samples per pass (``num_samples``), each
  with the weight bytes read per token, the achieved GB/s and its % of a
  streaming-read roofline measured by our own SIMD kernel
  (``lstmininet._core.read_bandwidth``) over a buffer of the weights' size
  at the same thread count, in the same child process; and the arithmetic
  rate (2 x weights x tokens/s) as a % of the SGEMM peak (float32), the
  bfloat16 GEMM peak (PyTorch's bfloat16 torch.mm; the SGEMM peak where
  that is higher, as on CPUs without bfloat16 arithmetic) or the int8 GEMM peak
  (PyTorch's quantized linear), all measured beside the SGEMM peak, which
  bounds what N samples per pass can gain.
* quality of the smaller weights (skip with ``--no-quality``): an LSTM
  trained on data/Melody.txt and one on this repository's text, held-out
  loss through the generation stepper in each precision.
* peak RSS: every library/config/thread measurement runs in its own child
  process, which reports ``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the
  lstmininet child never imports torch.

If one side is missing (torch not installed, lstmininet not built or
missing an API), the other side still runs and the failure is reported in
the JSON and in the markdown.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import importlib.util
import json
import math
import os
import pathlib
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = pathlib.Path(__file__).resolve().parent
RESULT_MARK = "@@BENCH_RESULT@@ "

# The reference configurations of DESIGN.md ("Measuring").
CONFIGS = {
    "melody": dict(vocab=38, embed=38, hidden=128, layers=1, batch=64, seq=64),
    "char": dict(vocab=65, embed=65, hidden=256, layers=2, batch=32, seq=30),
    "large": dict(vocab=65, embed=65, hidden=512, layers=3, batch=64, seq=64),
    # Real-valued sequences (LSTMRegressor vs nn.LSTM + nn.Linear): F features
    # in, F values out at every step, MSE; "tokens" are time steps of a row.
    "regression": dict(features=8, outputs=8, hidden=64, layers=2, batch=64, seq=50),
}
GATES = {"lstm": 4, "gru": 3}
LR = 1e-3
CLIP_NORM = 5.0
TEMPERATURE = 1.0
PRIMER_LEN = 8
# lstmininet generation: weight precisions x samples per pass (num_samples)
GEN_PRECISIONS = ("float32", "bfloat16", "int8")
GEN_BATCHES = (1, 16)
SPIN_PAUSE = 0.5  # seconds before each library's SGEMM peak: the threads of the last one stop spinning


def forward_matmul_flops_per_token(cfg: dict, cell: str) -> int:
    """Matmul FLOPs of the forward pass for one token (one position of one row).

    G = 4 gates (LSTM) or 3 (GRU), H hidden, V vocab, in_0 = E (or V for
    one-hot input), in_k = H for k >= 1. A (m x k) @ (k x n) product costs
    2*m*k*n FLOPs; per token m = 1:

        layer k input projection   x_t @ W_ih^T   2 * in_k * G*H
        layer k recurrence         h   @ W_hh^T   2 * H    * G*H
        output layer               h   @ W_fc^T   2 * H    * V

    For the regression config in_0 = F features and V = the outputs.
    """
    G, H = GATES[cell], cfg["hidden"]
    V = cfg["outputs"] if "features" in cfg else cfg["vocab"]
    total = 0
    for k in range(cfg["layers"]):
        in_k = (cfg["features"] if "features" in cfg else (cfg["embed"] or V)) if k == 0 else H
        total += 2 * in_k * G * H + 2 * H * G * H
    return total + 2 * H * V


def train_matmul_flops_per_token(cfg: dict, cell: str) -> int:
    """Forward + backward matmul FLOPs for one token.

    Every product Y = X @ W^T of the forward pass has two backward products
    of the same size: dX = dY @ W and dW = dY^T @ X (layer 0's dX is needed
    too: it is the embedding's gradient). So training = 3 x forward.
    Elementwise gate math, softmax, the embedding gather, clipping and Adam
    are not counted: the figure is a lower bound of the work done.
    """
    return 3 * forward_matmul_flops_per_token(cfg, cell)


# ---------------------------------------------------------------------------
# Child-process helpers
# ---------------------------------------------------------------------------


def _rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    if sys.platform == "darwin":  # bytes on macOS
        kb /= 1024
    return kb / 1024.0


def _random_tokens(cfg: dict, n_batches: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(0, cfg["vocab"], size=(n_batches, cfg["batch"], cfg["seq"] + 1), dtype=np.int64)


def _timed_loop(
    step, n_variants: int, warmup_time: float, min_time: float, min_steps: int, max_steps: int, warmup_steps: int = 1
) -> dict:
    """Run ``step(i)`` untimed for warm-up, then timed until min_time and min_steps."""
    t0 = time.perf_counter()
    w = 0
    while w < warmup_steps or (time.perf_counter() - t0 < warmup_time and w < max_steps):
        step(w % n_variants)
        w += 1
    times = []
    total = 0.0
    while (len(times) < min_steps or total < min_time) and len(times) < max_steps:
        s = time.perf_counter()
        step(len(times) % n_variants)
        dt = time.perf_counter() - s
        times.append(dt)
        total += dt
    return dict(warmup_steps=w, steps=len(times), seconds=total, step_times=times)


def _calibrated_call(call, first: int, target_s: float, lo: int, hi: int) -> tuple:
    """Times one ``call(n, seed)`` sized to last about target_s; returns (n, seconds, what it returned).

    n counts steps or tokens, from lo to hi. A warm-up call of n = first, then calibration calls of about a
    tenth of target_s (up to three, until one lasts half that) size it: a warm-up alone can run several times
    slower than later calls (first allocations; beside a busy process a first two-thread step waits for a
    descheduled thread), and calls sized from it ran a third of target_s (training) or ~20 ms (generation).
    """
    n = first
    for attempt in range(4):
        s = time.perf_counter()
        call(n, 3 + attempt)
        seconds = max(time.perf_counter() - s, 1e-9)
        rate = n / seconds
        if attempt > 0 and (seconds >= target_s / 20 or n >= hi):
            break
        n = int(min(hi, max(1, rate * target_s / 10)))
    n = int(min(hi, max(lo, math.ceil(rate * target_s))))
    s = time.perf_counter()
    result = call(n, 42)
    return n, time.perf_counter() - s, result


# ---------------------------------------------------------------------------
# SGEMM peak (child)
# ---------------------------------------------------------------------------


def _best_gflops(multiply, n: int, reps: int) -> float:
    """GFLOP/s of the fastest of `reps` calls of an n x n x n float32 product."""
    best = math.inf
    for _ in range(reps):
        s = time.perf_counter()
        multiply()
        best = min(best, time.perf_counter() - s)
    return 2.0 * n**3 / best / 1e9


def lstmininet_build(lstmininet) -> dict:
    """What lstmininet build was measured: ISA level loaded, flags, native or portable (show_config()), the
    LSTMININET_ISA override, and where it was imported from (an installed copy or a build tree)."""
    return dict(
        config=lstmininet.show_config(print_out=False),
        isa_override=os.environ.get("LSTMININET_ISA"),
        imported_from=str(pathlib.Path(lstmininet.__file__).resolve().parent),
    )


def child_peak(spec: dict) -> dict:
    import numpy as np

    import lstmininet

    out = {"numpy": {}, "torch": {}, "lstmininet": {}, "lstmininet_build": lstmininet_build(lstmininet)}
    sizes = spec["peak_sizes"]
    reps = spec["peak_reps"]
    lstmininet.set_num_threads(spec["threads"])
    for n in sizes:
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
        # Our own GEMM counts too: on some CPUs (Zen 5) it beats the BLAS numpy and torch ship. Each
        # library starts after a pause: threads of the one measured before spin for a while after its
        # last product (beside numpy's OpenBLAS threads, our second thread measured 22 GFLOP/s at
        # n = 512 on an Intel Xeon, family 6 model 167: 195-290 alone).
        ta, tb = lstmininet.Tensor(a), lstmininet.Tensor(b)
        time.sleep(SPIN_PAUSE)
        with lstmininet.no_grad():
            ta @ tb  # warm-up
            out["lstmininet"][str(n)] = _best_gflops(lambda ta=ta, tb=tb: ta @ tb, n, reps)
        time.sleep(SPIN_PAUSE)
        c = a @ b  # warm-up
        out["numpy"][str(n)] = _best_gflops(lambda a=a, b=b, c=c: np.matmul(a, b, out=c), n, reps)
    if spec.get("torch_available"):
        try:
            import torch

            torch.set_num_threads(spec["threads"])
            for n in sizes:
                a = torch.randn(n, n)
                b = torch.randn(n, n)
                time.sleep(SPIN_PAUSE)
                c = a @ b
                out["torch"][str(n)] = _best_gflops(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), n, reps)
        except Exception as exc:  # torch broken: numpy's figure still stands
            out["torch_error"] = repr(exc)
        try:
            out["torch_int8"] = _torch_int8_peak(sizes, reps)
            out["int8_peak_gops"] = max(out["torch_int8"].values())
        except Exception as exc:  # no quantized engine: the int8 rows go without a peak
            out["torch_int8_error"] = repr(exc)
        try:
            out["torch_bf16"] = _torch_bf16_peak(sizes, reps)
            out["bf16_peak_gflops"] = max(out["torch_bf16"].values())
        except Exception as exc:  # no bfloat16 GEMM: the bfloat16 rows go without a peak
            out["torch_bf16_error"] = repr(exc)
    values = list(out["numpy"].values()) + list(out["torch"].values()) + list(out["lstmininet"].values())
    out["peak_gflops"] = max(values)
    return out


def _torch_int8_peak(sizes: list, reps: int) -> dict:
    """GOP/s (2 per multiply-add) of PyTorch's int8 GEMM (quantized linear, x86/fbgemm engine: VNNI
    where the CPU has it), uint8 activations x int8 weights as in our int8 generation, n x n x n."""
    import warnings

    import torch

    out, linear = {}, torch.ops.quantized.linear
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch 2.13 marks quantized tensors deprecated; the kernels are there
        for n in sizes:
            w = torch.quantize_per_tensor(torch.randn(n, n), 0.05, 0, torch.qint8)
            packed = torch.ops.quantized.linear_prepack(w, None)
            x = torch.quantize_per_tensor(torch.rand(n, n), 0.01, 0, torch.quint8)
            linear(x, packed, 1.0, 0)  # warm-up
            out[str(n)] = _best_gflops(lambda x=x, packed=packed: linear(x, packed, 1.0, 0), n, reps)
    return out


def _torch_bf16_peak(sizes: list, reps: int) -> dict:
    """GFLOP/s of PyTorch's bfloat16 GEMM (float32 sums; AVX512_BF16 dot products where the CPU has
    them, as in our bfloat16 generation), n x n x n."""
    import torch

    out = {}
    for n in sizes:
        a = torch.randn(n, n, dtype=torch.bfloat16)
        b = torch.randn(n, n, dtype=torch.bfloat16)
        c = a @ b  # warm-up
        out[str(n)] = _best_gflops(lambda a=a, b=b, c=c: torch.mm(a, b, out=c), n, reps)
    return out


# ---------------------------------------------------------------------------
# PyTorch side (child)
# ---------------------------------------------------------------------------


def child_torch(spec: dict, result: dict) -> None:
    import numpy as np
    import torch

    nn = torch.nn
    F = torch.nn.functional
    cfg, cell, threads = spec["cfg"], spec["cell"], spec["threads"]
    torch.set_num_threads(threads)
    result["versions"] = {"torch": torch.__version__, "numpy": np.__version__}
    result["threads_effective"] = torch.get_num_threads()
    if "features" in cfg:
        _torch_regression(torch, cfg, cell, spec, result)
        return
    V, E, H, L = cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(E, H, L, batch_first=True)
            self.fc = nn.Linear(H, V)

        def forward(self, x, state=None):
            out, state = self.rnn(self.embedding(x), state)
            return self.fc(out), state

    torch.manual_seed(0)
    model = Model()
    result["rss_mb"] = {"after_setup": _rss_mb()}

    # training ------------------------------------------------------------
    try:
        data = torch.from_numpy(_random_tokens(cfg, spec["n_batch_variants"], seed=1))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        params = list(model.parameters())

        def step(i):
            x, y = data[i, :, :-1], data[i, :, 1:]
            opt.zero_grad(set_to_none=True)
            logits, _ = model(x)
            loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
            opt.step()
            return loss.item()

        t = _timed_loop(
            step,
            spec["n_batch_variants"],
            spec["warmup_time"],
            spec["train_time"],
            spec["min_steps"],
            spec["max_steps"],
        )
        tokens = t["steps"] * cfg["batch"] * cfg["seq"]
        result["train"] = dict(
            t,
            method="python loop: zero_grad, forward, cross_entropy, backward, clip_grad_norm_, Adam.step",
            tokens=tokens,
            tokens_per_sec=tokens / t["seconds"],
        )
    except Exception:
        result["errors"]["train"] = traceback.format_exc()
    result["rss_mb"]["after_train"] = _rss_mb()

    # generation ----------------------------------------------------------
    try:
        model.eval()
        primer = _random_tokens(cfg, 1, seed=2)[0, 0, :PRIMER_LEN].tolist()

        def generate(length: int, seed: int = 0) -> list:
            g = torch.Generator().manual_seed(seed)
            out = []
            with torch.no_grad():
                logits, state = model(torch.tensor([primer]))
                last = logits[0, -1]
                for _ in range(length):
                    probs = torch.softmax(last / TEMPERATURE, dim=-1)
                    tok = int(torch.multinomial(probs, 1, generator=g))
                    out.append(tok)
                    logits, state = model(torch.tensor([[tok]]), state)
                    last = logits[0, -1]
            return out

        result["gen"] = _measure_generation(generate, spec)
    except Exception:
        result["errors"]["gen"] = traceback.format_exc()
    result["rss_mb"]["peak"] = _rss_mb()


def _random_floats(cfg: dict, n_batches: int, seed: int):
    """(n_batches * batch, seq, features) inputs and (..., outputs) targets, float32."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = n_batches * cfg["batch"]
    x = rng.standard_normal((rows, cfg["seq"], cfg["features"]), dtype=np.float32)
    y = rng.standard_normal((rows, cfg["seq"], cfg["outputs"]), dtype=np.float32)
    return x, y


def _torch_regression(torch, cfg: dict, cell: str, spec: dict, result: dict) -> None:
    """The regression config in PyTorch: nn.LSTM/GRU + nn.Linear, MSE, clip, Adam (no generation)."""
    nn = torch.nn
    torch.manual_seed(0)
    rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(cfg["features"], cfg["hidden"], cfg["layers"], batch_first=True)
    fc = nn.Linear(cfg["hidden"], cfg["outputs"])
    params = list(rnn.parameters()) + list(fc.parameters())
    result["rss_mb"] = {"after_setup": _rss_mb()}
    try:
        x, y = (torch.from_numpy(a) for a in _random_floats(cfg, spec["n_batch_variants"], seed=1))
        opt = torch.optim.Adam(params, lr=LR)
        B = cfg["batch"]

        def step(i):
            opt.zero_grad(set_to_none=True)
            out, _ = rnn(x[i * B : (i + 1) * B])
            loss = torch.nn.functional.mse_loss(fc(out), y[i * B : (i + 1) * B])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
            opt.step()
            return loss.item()

        timing = (spec["warmup_time"], spec["train_time"], spec["min_steps"], spec["max_steps"])
        t = _timed_loop(step, spec["n_batch_variants"], *timing)
        tokens = t["steps"] * cfg["batch"] * cfg["seq"]
        result["train"] = dict(
            t,
            method="python loop: zero_grad, forward, mse_loss, backward, clip_grad_norm_, Adam.step",
            tokens=tokens,
            tokens_per_sec=tokens / t["seconds"],
        )
    except Exception:
        result["errors"]["train"] = traceback.format_exc()
    result["rss_mb"]["peak"] = _rss_mb()


def _lmn_regression(lstmininet, cfg: dict, cell: str, spec: dict, result: dict) -> None:
    """The regression config in lstmininet: LSTMRegressor/GRURegressor.fit (no generation)."""
    cls = {"lstm": lstmininet.LSTMRegressor, "gru": lstmininet.GRURegressor}[cell]
    m = cls(cfg["features"], cfg["hidden"], cfg["layers"], cfg["outputs"], seed=0)
    result["rss_mb"] = {"after_setup": _rss_mb()}
    B, T = cfg["batch"], cfg["seq"]
    kwargs = dict(epochs=1, batch_size=B, seq_len=T, lr=LR, optimizer="adam", clip_norm=CLIP_NORM, progress=False)
    try:

        def fit(steps: int, seed: int):
            return m.fit(*_random_floats(cfg, steps, seed), **kwargs)

        n, wall, _ = _calibrated_call(
            fit, spec["min_warmup_steps"], spec["train_time"], spec["min_steps"], spec["max_steps"]
        )
        tokens = n * B * T
        result["train"] = dict(
            method="fit(): one call, wall time around it",
            warmup_steps=max(1, spec["min_warmup_steps"]),
            steps=n,
            seconds=wall,
            tokens=tokens,
            tokens_per_sec=tokens / wall,
        )
    except Exception:
        result["errors"]["train"] = traceback.format_exc()
    result["rss_mb"]["peak"] = _rss_mb()


def _measure_generation(generate, spec: dict, rows: int = 1) -> dict:
    """Time one call sized to last about gen_time (_calibrated_call).

    ``rows`` samples are drawn per call (``length`` tokens each); tokens
    counts all of them.
    """
    hi = max(64, spec["gen_max_tokens"] // rows)
    n, dt, out = _calibrated_call(
        lambda length, _: generate(length), spec["gen_warmup_tokens"], spec["gen_time"], 64, hi
    )
    returned = len(out) if rows == 1 else sum(len(o) for o in out)
    return dict(
        tokens=n * rows, returned=returned, seconds=dt, tokens_per_sec=n * rows / dt, primer_len=PRIMER_LEN, rows=rows
    )


# ---------------------------------------------------------------------------
# lstmininet side (child; never imports torch)
# ---------------------------------------------------------------------------


def child_lstmininet(spec: dict, result: dict) -> None:
    import numpy as np

    import lstmininet

    cfg, cell, threads = spec["cfg"], spec["cell"], spec["threads"]
    result["versions"] = {"lstmininet": getattr(lstmininet, "__version__", "?"), "numpy": np.__version__}
    if "torch" in sys.modules:
        result["notes"].append("importing lstmininet loaded torch: its RSS includes torch's")
    if hasattr(lstmininet, "set_num_threads"):
        lstmininet.set_num_threads(threads)
        if hasattr(lstmininet, "get_num_threads"):
            result["threads_effective"] = lstmininet.get_num_threads()
    else:
        result["notes"].append(
            "lstmininet.set_num_threads is missing: thread count set only through OMP_NUM_THREADS in the environment"
        )
    if "features" in cfg:
        _lmn_regression(lstmininet, cfg, cell, spec, result)
        return
    V, E, H, L = cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"]
    cls = {"lstm": lstmininet.LSTM, "gru": lstmininet.GRU}[cell]
    m = cls(V, hidden_size=H, num_layers=L, embedding_dim=E, dropout=0.0, seed=0)
    result["rss_mb"] = {"after_setup": _rss_mb()}

    # training ------------------------------------------------------------
    try:
        result["train"] = _lmn_train(m, cfg, spec)
    except Exception:
        result["errors"]["train"] = traceback.format_exc()
    result["rss_mb"]["after_train"] = _rss_mb()

    # generation ----------------------------------------------------------
    # Every precision x samples per pass, each with the bytes of weights it
    # reads per step and the streaming-read roofline of that many bytes at
    # this thread count (our own SIMD kernel, lstmininet._core.read_bandwidth).
    primer = _random_tokens(cfg, 1, seed=2)[0, 0, :PRIMER_LEN].tolist()
    result["gen_lmn"] = {}
    core = getattr(lstmininet, "_core", None)
    roofline = {}
    for precision in GEN_PRECISIONS:
        for rows in GEN_BATCHES:
            key = f"{precision}/{rows}"
            try:

                def generate(length: int, seed: int = 0, precision=precision, rows=rows) -> list:
                    samples = None if rows == 1 else rows
                    return m.generate(
                        primer=primer,
                        length=length,
                        temperature=TEMPERATURE,
                        seed=seed,
                        precision=precision,
                        num_samples=samples,
                    )

                g = _measure_generation(generate, spec, rows)
                if rows == 1 and g["returned"] == g["tokens"] + PRIMER_LEN:
                    g["note"] = "generate() returned the primer too; counted only new tokens"
                elif g["returned"] != g["tokens"]:
                    result["notes"].append(f"generate({key}) returned {g['returned']} of {g['tokens']} tokens")
                if core is not None and hasattr(core, "read_bandwidth"):
                    g["bytes_per_step"] = m._core.generation_bytes_per_step(precision)
                    size = g["bytes_per_step"]
                    if size not in roofline:
                        roofline[size] = core.read_bandwidth(size, threads, spec["roofline_time"])
                    g["roofline_gbs"] = roofline[size]
                    g["bytes_per_token"] = size / rows
                    g["gbs"] = g["tokens_per_sec"] * g["bytes_per_token"] / 1e9
                    g["pct_roofline"] = 100.0 * g["gbs"] / g["roofline_gbs"] if g["roofline_gbs"] else None
                result["gen_lmn"][key] = g
            except Exception:
                result["errors"][f"gen {key}"] = traceback.format_exc()
    if core is not None and hasattr(core, "int8_kernel"):
        result["int8_kernel"] = core.int8_kernel()
    if core is not None and hasattr(core, "bf16_kernel"):
        result["bf16_kernel"] = core.bf16_kernel()
    if core is not None and hasattr(core, "bf16_batch_kernel"):
        result["bf16_batch_kernel"] = core.bf16_batch_kernel()
    if core is not None and hasattr(core, "amx_enabled"):
        result["amx"] = core.amx_enabled()
    # the comparison with PyTorch's loop: batch 1, float32 (and the opt-in bfloat16 copy)
    result["gen"] = result["gen_lmn"].get("float32/1")
    result["gen_bf16"] = result["gen_lmn"].get("bfloat16/1")
    if result["gen"] is None and "gen float32/1" in result["errors"]:
        result["errors"]["gen"] = result["errors"]["gen float32/1"]
    result["rss_mb"]["peak"] = _rss_mb()


def child_quality(spec: dict, result: dict) -> None:
    """What smaller generation weights cost: held-out loss per precision, trained models.

    A melody model (melody config) on data/Melody.txt and a text model (char
    config) on this repository's Markdown and Python text, trained for
    ``quality_epochs[config]`` epochs on a 90% split; the loss is measured on the other 10% through the
    generation stepper itself (``generation_loss``) in float32, bfloat16 and int8.
    """
    import lstmininet
    from lstmininet.melody_file import load_melody_file
    from lstmininet.tokenizers import CharTokenizer, MelodyTokenizer

    lstmininet.set_num_threads(spec["threads"])
    root = HERE.parent

    def melody_data():
        melodies = load_melody_file(root / "data" / "Melody.txt")
        melody_tok = MelodyTokenizer.build(melodies, add_bos_eos=True)
        return "melodies (data/Melody.txt)", [melody_tok.encode_melody(m) for m in melodies]

    def text_data():
        files = sorted(root.glob("*.md")) + sorted((root / "data").glob("*.md"))
        files += sorted((root / "python" / "lstmininet").glob("*.py"))
        text = "".join(f.read_text(encoding="utf-8") for f in files)
        char_tok = CharTokenizer.build(text)
        chunk = 256
        sequences = [char_tok.encode(list(text[i : i + chunk])) for i in range(0, len(text), chunk)]
        return f"text (repository .md/.py, {len(text) // 1000} kB)", sequences

    result["quality"] = []
    for name, config, load in (("melodies", "melody", melody_data), ("text", "char", text_data)):
        try:  # one dataset failing (a missing file) must not hide the other, and is marked FAILED
            name, sequences = load()
            row = _quality_row(lstmininet, spec, config, sequences)
        except Exception:
            result["errors"][f"quality {name}"] = traceback.format_exc()
            row = dict(config=config, failed=True)
        result["quality"].append(dict(row, dataset=name))


def _quality_row(lstmininet, spec: dict, config: str, sequences: list) -> dict:
    from lstmininet.splits import split_dataset

    cfg = CONFIGS[config]
    train, held_out, _ = split_dataset(sequences, val_fraction=0.1, seed=0)
    vocab = max(max(s) for s in sequences) + 1
    m = lstmininet.LSTM(vocab, hidden_size=cfg["hidden"], num_layers=cfg["layers"], embedding_dim=cfg["embed"], seed=0)
    start = time.perf_counter()
    epochs = spec["quality_epochs"][config]
    history = m.fit(train, epochs=epochs, batch_size=32, seq_len=64, lr=3e-3, clip_norm=5.0, progress=False)
    row = dict(
        config=config,
        epochs=epochs,
        train_seconds=time.perf_counter() - start,
        train_loss=history["train_loss"][-1],
    )
    for precision in GEN_PRECISIONS:
        row[precision] = m.generation_loss(held_out, precision=precision)
    return row


def _lmn_train(m, cfg: dict, spec: dict) -> dict:
    """Training throughput through ``fit``: one warm-up call, then one timed call."""
    B, T = cfg["batch"], cfg["seq"]

    def sequences(n_batches: int, seed: int) -> list:
        # each row of length T+1 is one (input, target) window
        return _random_tokens(cfg, n_batches, seed).reshape(-1, T + 1).tolist()

    kwargs = dict(epochs=1, batch_size=B, seq_len=T, lr=LR, optimizer="adam", clip_norm=CLIP_NORM, progress=False)

    def fit(steps: int, seed: int):
        return m.fit(sequences(steps, seed), **kwargs)

    n, wall, hist = _calibrated_call(
        fit, spec["min_warmup_steps"], spec["train_time"], spec["min_steps"], spec["max_steps"]
    )
    tokens = n * B * T
    out = dict(
        method="fit(): one call, wall time around it",
        warmup_steps=max(1, spec["min_warmup_steps"]),
        steps=n,
        seconds=wall,
        tokens=tokens,
        tokens_per_sec=tokens / wall,
    )
    reported = (hist or {}).get("tokens_per_sec") if isinstance(hist, dict) else None
    if reported:
        out["fit_reported_tokens_per_sec"] = float(reported[-1])
    return out


# ---------------------------------------------------------------------------
# Child entry point
# ---------------------------------------------------------------------------


def run_child(spec: dict) -> None:
    result = {"side": spec["side"], "errors": {}, "notes": []}
    try:
        if spec["side"] == "peak":
            result.update(child_peak(spec))
        elif spec["side"] == "torch":
            child_torch(spec, result)
        elif spec["side"] == "lstmininet":
            child_lstmininet(spec, result)
        elif spec["side"] == "quality":
            child_quality(spec, result)
        else:
            raise ValueError(spec["side"])
    except Exception:
        result["errors"]["setup"] = traceback.format_exc()
    result.setdefault("rss_mb", {})["peak"] = _rss_mb()
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def _die_with_harness(harness: int) -> None:
    """preexec_fn of every child: on Linux the kernel SIGKILLs it when the harness dies, however it dies
    (SIGKILL too, which no handler sees), so no busy process or measurement outlives an interrupted run."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != harness:  # the harness died before prctl took effect
        os._exit(1)


def child_options() -> dict:
    """Popen options that tie a child's life to this process (see _die_with_harness)."""
    return dict(preexec_fn=functools.partial(_die_with_harness, os.getpid()))


def busy_process() -> subprocess.Popen:
    """One competing busy process: a Python spin loop, killed with the harness."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], **child_options())


def stop_processes(procs: list) -> None:
    for proc in procs:
        proc.kill()
        proc.wait()


def exit_on_sigterm() -> None:
    """Make SIGTERM (kill, a CI job's timeout) raise SystemExit: by default it ends Python at once, skipping the
    finally blocks that stop the busy processes; subprocess.run kills its child on the way out too."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def launch(spec: dict, timeout: float) -> dict:
    """Run one measurement in a fresh interpreter with the thread count fixed."""
    env = dict(os.environ)
    n = str(spec["threads"])
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "LSTMININET_NUM_THREADS",
    ):
        env[var] = n
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", json.dumps(spec)]
    load_before = _loadavg()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, **child_options())
    except subprocess.TimeoutExpired:
        return {"side": spec["side"], "errors": {"child": f"timed out after {timeout:.0f} s"}, "notes": []}
    res = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            res = json.loads(line[len(RESULT_MARK) :])
            if proc.returncode != 0:
                res["errors"]["child"] = f"exit code {proc.returncode}: {proc.stderr[-2000:]}"
    if res is None:
        res = {
            "side": spec["side"],
            "notes": [],
            "errors": {"child": f"no result (exit code {proc.returncode}); stderr tail:\n{proc.stderr[-3000:]}"},
        }
    res["loadavg_1min"] = {"before": load_before, "after": _loadavg()}
    return res


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


# ---------------------------------------------------------------------------
# Parent: plan, run, report
# ---------------------------------------------------------------------------


def best_of(attempts: list) -> dict:
    """Merge repeated measurements: the fastest training and the fastest generation.

    On a machine shared with other work, noise only ever slows a run down,
    so the best repeat is the closest to the undisturbed speed.
    """
    if len(attempts) == 1:
        return attempts[0]

    def pick(phase):
        ok = [a for a in attempts if (a.get(phase) or {}).get("tokens_per_sec")]
        return max(ok, key=lambda a: a[phase]["tokens_per_sec"]) if ok else attempts[-1]

    best = dict(pick("train"))
    best["gen"] = pick("gen").get("gen")
    best["gen_bf16"] = pick("gen_bf16").get("gen_bf16")
    keys = {k for a in attempts for k in (a.get("gen_lmn") or {})}
    best["gen_lmn"] = {}
    for key in sorted(keys):
        ok = [a["gen_lmn"][key] for a in attempts if ((a.get("gen_lmn") or {}).get(key) or {}).get("tokens_per_sec")]
        if ok:
            best["gen_lmn"][key] = max(ok, key=lambda g: g["tokens_per_sec"])
    best["errors"] = {k: v for a in attempts for k, v in (a.get("errors") or {}).items()}
    best["notes"] = sorted({n for a in attempts for n in (a.get("notes") or [])})
    peaks = [(a.get("rss_mb") or {}).get("peak") for a in attempts]
    best["rss_mb"] = dict(best.get("rss_mb") or {}, peak=max([p for p in peaks if p is not None], default=None))
    best["repeats"] = [
        dict(
            train_tokens_per_sec=(a.get("train") or {}).get("tokens_per_sec"),
            gen_tokens_per_sec=(a.get("gen") or {}).get("tokens_per_sec"),
            gen_bf16_tokens_per_sec=(a.get("gen_bf16") or {}).get("tokens_per_sec"),
            loadavg_1min=a.get("loadavg_1min"),
        )
        for a in attempts
    ]
    return best


# Published microarchitecture of x86 (vendor, display family) -> [(first model, last model, name)]; results
# are kept per CPU, and the brand string alone does not tell them apart ("AMD EPYC" on both Zen 4 and Zen 5).
MICROARCHITECTURES = {
    ("AuthenticAMD", 23): [(0x00, 0x2F, "zen1"), (0x30, 0xFF, "zen2")],  # Zen/Zen+ below 0x30 (Naples is 0x01)
    ("AuthenticAMD", 25): [(0x00, 0x0F, "zen3"), (0x10, 0x1F, "zen4"), (0x20, 0x5F, "zen3"), (0x60, 0xAF, "zen4")],
    ("AuthenticAMD", 26): [(0x00, 0xFF, "zen5")],
    ("GenuineIntel", 6): [
        (85, 85, "skylake-cascade-lake"),
        (106, 108, "ice-lake"),
        (143, 143, "sapphire-rapids"),
        (173, 174, "granite-rapids"),
        (207, 207, "emerald-rapids"),
    ],
}


# Model names that say nothing of the host's CPU: family and model are the virtual CPU's too.
GENERIC_MODEL_NAMES = re.compile(r"KVM|QEMU|Virtual CPU|virtual processor", re.I)


def l3_kb_of_cpu0() -> int | None:
    """Size in kB of the L3 cache that CPU 0 uses (one cache instance: a CCX/CCD on AMD, a socket on Intel)."""
    for index in sorted(pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "3":
                size = (index / "size").read_text().strip()
                return int(size[:-1]) * {"K": 1, "M": 1024}[size[-1]] if size[-1] in "KM" else int(size) // 1024
        except (OSError, ValueError):
            return None
    return None


def cpu_identity(cpuinfo: str | None = None, l3_kb: int | None = None) -> dict:
    """Brand, vendor, family, model, microarchitecture, L3 size and a path-safe name for this CPU (from
    /proc/cpuinfo and sysfs; a cpuinfo text given describes another machine, whose L3 size is `l3_kb`).

    A model name without a model number ("AMD EPYC", "Intel(R) Xeon(R) Processor", as hypervisors show
    them) does not tell Milan from Milan-X (3x the L3 of the same family/model), so the name then ends with the
    L3 size, e.g. ``amd-epyc-zen3-f25m1-l3-32m``; ``legacy_slug`` is the name without it, which folders created
    before the L3 size was in the name carry (see cpu_folder). ``problem`` says why no reliable name can be
    made (no model name, a generic virtual CPU, an unknown family/model or L3 size); main() then asks for
    ``--cpu-name``.
    """
    if cpuinfo is None:
        try:
            cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
        l3_kb = l3_kb_of_cpu0()
    fields = {}
    for line in cpuinfo.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor is enough
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    brand = fields.get("model name") or ""
    vendor = fields.get("vendor_id", "")
    family = int(fields["cpu family"]) if fields.get("cpu family", "").isdigit() else None
    model = int(fields["model"]) if fields.get("model", "").isdigit() else None
    uarch = next(
        (name for first, last, name in MICROARCHITECTURES.get((vendor, family), []) if first <= (model or 0) <= last),
        None,
    )
    words = re.sub(r"\((R|TM)\)|\bProcessor\b|\bCPU\b|@.*$|\b\d+-Core\b", " ", brand, flags=re.I).lower().split()
    words = [w for w in re.split(r"[^a-z0-9]+", "-".join(words)) if w]
    hidden = not any(ch.isdigit() for ch in "".join(words))  # no model number
    legacy = "-".join(words + ([uarch] if uarch else []))
    if family is not None and model is not None:
        legacy += f"-f{family}m{model}"
    slug = legacy + (f"-l3-{l3_kb // 1024}m" if hidden and l3_kb else "")
    problem = None
    if not brand:
        problem = "/proc/cpuinfo has no 'model name' line"
    elif GENERIC_MODEL_NAMES.search(brand):
        problem = f"the model name {brand!r} is a generic virtual CPU's, not the host's"
    elif not words:
        problem = f"the model name {brand!r} names no CPU"
    elif hidden and (family is None or model is None):
        problem = f"the model name {brand!r} has no model number, and the x86 family/model are unknown"
    elif hidden and not l3_kb:
        problem = f"the model name {brand!r} has no model number, and the L3 cache size is unknown"
    return dict(
        brand=brand or platform.processor() or platform.machine() or "unknown",
        vendor=vendor,
        family=family,
        model=model,
        microarchitecture=uarch,
        l3_kb=l3_kb,
        legacy_slug=legacy,
        slug=slug,
        problem=problem,
    )


def named_cpu(identity: dict, name: str) -> dict:
    """The identity with the user's --cpu-name as its path-safe name (None if nothing path-safe is left)."""
    slug = "-".join(w for w in re.split(r"[^a-z0-9]+", name.lower()) if w)
    return dict(identity, slug=slug, legacy_slug=slug, problem=None, named_by_user=True) if slug else None


def cpu_folder(identity: dict, root: pathlib.Path) -> str:
    """The folder under `root` for this CPU's results: its name, or the folder named before the L3 size was
    part of the name (legacy_slug) while that holds no results or results of a CPU with no L3 size recorded or
    the same one. The first run there records the L3 size; a CPU of the same name with another L3 size then
    gets a folder of its own."""
    slug, legacy = identity["slug"], identity.get("legacy_slug")
    if slug == legacy or not legacy or (root / slug).exists() or not (root / legacy).is_dir():
        return slug
    try:
        stored = read_stored(root / legacy)
    except StoredResultsError:
        return slug
    old = (stored or {}).get("machine", {}).get("cpu_identity") or {}
    return legacy if old.get("l3_kb") in (None, identity.get("l3_kb")) else slug


def same_cpu(stored: dict, out: pathlib.Path, identity: dict) -> bool:
    """Whether `stored` results are this CPU's. Identities recorded before the L3 size was (no l3_kb) are
    matched by the name without it."""
    old = stored["machine"].get("cpu_identity")
    if old is None:
        return stored_cpu(stored, out) in (identity["slug"], identity.get("legacy_slug"))
    return old["slug"] == (identity["slug"] if "l3_kb" in old else identity.get("legacy_slug", identity["slug"]))


class StoredResultsError(Exception):
    """The results stored in a folder cannot be read: its owner and contents are unknown."""


def read_stored(out: pathlib.Path) -> dict | None:
    """The results stored in `out` (bench.json), None if there are none; StoredResultsError names the file
    when they cannot be read (cut short, not a file, not UTF-8, no machine record), or when only a bench.md
    is there: whose results those are, and what they cover, is then unknown."""
    path = out / "bench.json"
    if not os.path.lexists(path):
        if os.path.lexists(out / "bench.md"):
            raise StoredResultsError(
                f"{out / 'bench.md'} has no bench.json beside it: whose results it holds is unknown"
            )
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise StoredResultsError(f"cannot read the stored results {path}: {exc}") from None
    machine = stored.get("machine") if isinstance(stored, dict) else None
    if not isinstance(machine, dict):
        raise StoredResultsError(f"the stored results {path} have no machine record")
    identity = machine.get("cpu_identity")
    if identity is not None and not (isinstance(identity, dict) and isinstance(identity.get("slug"), str)):
        raise StoredResultsError(f"the stored results {path} have a malformed cpu_identity: {identity!r}")
    return stored


def stored_cpu(stored: dict, out: pathlib.Path) -> str:
    """The CPU whose results `stored` are. Runs from before CPUs were named in the results are known by
    their folder's name."""
    identity = stored["machine"].get("cpu_identity")
    return identity["slug"] if identity else out.name


def results_cpu(out: pathlib.Path) -> str | None:
    """The CPU whose results lie in `out` (None if none do); StoredResultsError if they cannot be read."""
    stored = read_stored(out)
    return None if stored is None else stored_cpu(stored, out)


def coverage(runs: list, quality: bool) -> dict:
    """What a result set measured: (config, cell, threads) cases, the sides that ran, the quality phase."""
    return dict(
        cases={(r["config"], r["cell"], r["threads"]) for r in runs},
        sides={s for r in runs for s in ("lstmininet", "torch") if s in r and not (r[s] or {}).get("skipped")},
        quality=quality,
    )


def missing_from(planned: dict, stored: dict) -> list:
    """What the stored results hold that the planned run would not measure (empty: it may replace them)."""
    gaps = [f"{c}/{cell}/{n}t" for c, cell, n in sorted(stored["cases"] - planned["cases"])]
    gaps += [f"the {s} side" for s in sorted(stored["sides"] - planned["sides"])]
    if stored["quality"] and not planned["quality"]:
        gaps.append("the quality phase")
    return gaps


def write_atomically(path: pathlib.Path, text: str) -> None:
    """Replace `path` all at once through lstmininet's writer (an interrupted write left a cut-short
    bench.json, later refused as unreadable); the harness measures lstmininet, so it is always there."""
    from lstmininet.atomic_file import write_text_atomically

    write_text_atomically(path, text)


def _git(*args) -> str:
    """Output of a git command in the repository bench.py is in ('' if git fails)."""
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), *args], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except Exception:
        return ""


def machine_info(cpu: dict) -> dict:
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain"):  # results of uncommitted code are not the commit's
        commit += "-dirty"
    return dict(
        cpu=cpu["brand"],
        cpu_identity=cpu,
        logical_cpus=os.cpu_count(),
        python=platform.python_version(),
        platform=platform.platform(),
        git_commit=commit or "?",
    )


def side_available(side: str) -> str | None:
    """None if importable, else why not (checked without importing it here)."""
    mod = {"torch": "torch", "lstmininet": "lstmininet"}[side]
    try:
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed"
    except Exception as exc:
        return f"{mod}: {exc!r}"
    return None


def fmt(x, spec=",.0f"):
    return "—" if x is None else format(x, spec)


def summarize(results: dict) -> list:
    """One row per (config, cell, threads) with both sides' numbers and the ratios."""
    rows = []
    for r in results["runs"]:
        cfg = CONFIGS[r["config"]]
        peak = results["peak"].get(str(r["threads"]), {}).get("peak_used")
        row = dict(config=r["config"], cell=r["cell"], threads=r["threads"])
        for side in ("lstmininet", "torch"):
            s = r.get(side) or {}
            train = s.get("train") or {}
            gen = s.get("gen") or {}
            tps = train.get("tokens_per_sec")
            gflops = tps * train_matmul_flops_per_token(cfg, r["cell"]) / 1e9 if tps else None
            row[side] = dict(
                train_tps=tps,
                gflops=gflops,
                pct_peak=100.0 * gflops / peak if gflops and peak else None,
                gen_tps=gen.get("tokens_per_sec"),
                gen_bf16_tps=(s.get("gen_bf16") or {}).get("tokens_per_sec"),
                rss_peak=(s.get("rss_mb") or {}).get("peak"),
                rss_setup=(s.get("rss_mb") or {}).get("after_setup"),
                errors=s.get("errors") or {},
                notes=s.get("notes") or [],
                skipped=s.get("skipped"),
            )
        a, b = row["lstmininet"], row["torch"]
        row["train_ratio"] = a["train_tps"] / b["train_tps"] if a["train_tps"] and b["train_tps"] else None
        row["gen_ratio"] = a["gen_tps"] / b["gen_tps"] if a["gen_tps"] and b["gen_tps"] else None
        row["gen_bf16_ratio"] = a["gen_bf16_tps"] / b["gen_tps"] if a["gen_bf16_tps"] and b["gen_tps"] else None
        rows.append(row)
    return rows


def build_line(build: dict | None) -> str:
    """The lstmininet build measured, in one line of the report."""
    if not build:
        return "lstmininet build: unknown (the SGEMM peak child, which records it, failed)"
    c = build["config"]
    kind = "native (-march=native)" if c.get("native") else "portable"
    override = f"LSTMININET_ISA={build['isa_override']}" if build.get("isa_override") else "no LSTMININET_ISA override"
    return (
        f"lstmininet build: {kind}, ISA level {c.get('isa_level')} loaded ({c.get('isa_reason')}), {c.get('simd')}, "
        f"flags `{c.get('flags')}`, {c.get('compiler')}; {override}; imported from `{build['imported_from']}`."
    )


def markdown(results: dict) -> str:
    rows = summarize(results)
    m = results["machine"]
    v = results["versions"]
    L = []
    L.append("# LSTMiniNet vs PyTorch, CPU")
    L.append("")
    L.append(
        f"{results['started']} · {m['cpu']} ({m['logical_cpus']} logical CPUs) · "
        f"Python {m['python']} · torch {v.get('torch', '—')} · lstmininet {v.get('lstmininet', '—')} · "
        f"numpy {v.get('numpy', '—')} · commit {m['git_commit']}"
    )
    L.append("")
    L.append(build_line(results.get("lstmininet_build")))
    L.append("")
    L.append(
        f"Settings: {'quick' if results['settings']['quick'] else 'default'}; "
        f"train ≥ {results['settings']['train_time']} s and ≥ {results['settings']['min_steps']} timed steps "
        f"after warm-up; generation ≈ {results['settings']['gen_time']} s per side; "
        f"best of {results['settings']['repeat']} repeat(s)"
        + (
            f"; {results['settings']['busy']} competing busy process(es) (`--busy`) during every measurement "
            "but the SGEMM peak"
            if results["settings"].get("busy")
            else ""
        )
        + ". Ratio = lstmininet / "
        "PyTorch (> 1 means lstmininet is faster). Every measurement ran in its own process. "
        f"1-min load average at start: {results.get('loadavg_1min_at_start')} (anything else running on "
        "the machine distorts the numbers, most of all at 2 threads; see `loadavg_1min` per run in the JSON)."
    )
    L.append("")
    L.append("## SGEMM peak (float32 square matmul, best of numpy, torch and lstmininet)")
    L.append("")
    L.append(
        "Peak used at n threads = the best measured at <= n threads (a lower figure means the "
        "measurement was disturbed). A % of peak above 100 means the peak itself was measured low."
    )
    L.append("")
    peak_rows = []
    for t, p in sorted(results["peak"].items(), key=lambda kv: int(kv[0])):
        np_s = ", ".join(f"n={n}: {g:.1f}" for n, g in p.get("numpy", {}).items()) or "—"
        th_s = ", ".join(f"n={n}: {g:.1f}" for n, g in p.get("torch", {}).items()) or "—"
        own_s = ", ".join(f"n={n}: {g:.1f}" for n, g in p.get("lstmininet", {}).items()) or "—"
        peak_rows.append([t, np_s, th_s, own_s, fmt(p.get("peak_used"), ".1f")])
    L += _md_table(["threads", "numpy GFLOP/s", "torch GFLOP/s", "lstmininet GFLOP/s", "peak used"], "rlllr", peak_rows)
    L.append("")
    low_precision_peaks = [
        (
            "torch_int8",
            "int8_peak_used",
            "int8 GEMM peak (the int8 generation rows' arithmetic ceiling): PyTorch's quantized linear "
            "(uint8 x int8, x86/fbgemm engine), square n x n x n, GOP/s = 2 x multiply-adds / s.",
            "torch int8 GOP/s",
        ),
        (
            "torch_bf16",
            "bf16_peak_used",
            "bfloat16 GEMM peak (the bfloat16 generation rows' arithmetic ceiling): PyTorch's torch.mm of "
            "bfloat16 matrices, square n x n x n, GFLOP/s = 2 x multiply-adds / s.",
            "torch bfloat16 GFLOP/s",
        ),
    ]
    for measured, used, caption, column in low_precision_peaks:
        peak_table = [
            [t, ", ".join(f"n={n}: {g:.1f}" for n, g in p[measured].items()), fmt(p.get(used), ".1f")]
            for t, p in sorted(results["peak"].items(), key=lambda kv: int(kv[0]))
            if p.get(measured)
        ]
        if peak_table:
            L += [caption, ""]
            L += _md_table(["threads", column, "peak used"], "rlr", peak_table)
            L.append("")
    L.append("## Training: forward + backward + clip 5.0 + Adam, tokens/s")
    L.append("")
    L.append("GFLOP/s counts matmul FLOPs only (3 x forward; see `train_matmul_flops_per_token`).")
    L.append("")
    L += _md_table(
        RUN_COLUMNS
        + ["lstmininet tok/s", "PyTorch tok/s", "ratio", "lstmininet GFLOP/s (% peak)", "PyTorch GFLOP/s (% peak)"],
        "llr" + "r" * 5,
        [
            _run_cells(r)
            + [
                _cell(r["lstmininet"], "train"),
                _cell(r["torch"], "train"),
                fmt(r["train_ratio"], ".2f"),
                _gf(r["lstmininet"]),
                _gf(r["torch"]),
            ]
            for r in rows
        ],
    )
    L.append("")
    L.append("## Generation: batch 1, one token at a time, temperature 1, tokens/s")
    L.append("")
    L.append(
        "Both libraries compute in float32. The last two columns are lstmininet's opt-in "
        '`precision="bfloat16"`: it reads a copy of the weights rounded to bfloat16 and rounds the '
        "products' inputs too (sums stay float32), so its samples differ slightly from float32's; "
        "PyTorch still runs float32."
    )
    L.append("")
    L += _md_table(
        RUN_COLUMNS
        + [
            "lstmininet tok/s",
            "PyTorch tok/s (Python loop)",
            "ratio",
            "lstmininet bfloat16 weights tok/s",
            "ratio (bfloat16 vs PyTorch float32)",
        ],
        "llr" + "r" * 5,
        [
            _run_cells(r)
            + [
                _cell(r["lstmininet"], "gen"),
                _cell(r["torch"], "gen"),
                fmt(r["gen_ratio"], ".2f"),
                _cell(r["lstmininet"], "gen_bf16"),
                fmt(r["gen_bf16_ratio"], ".2f"),
            ]
            for r in rows
        ],
    )
    L.append("")
    L += roofline_markdown(results)
    L += quality_markdown(results)
    L.append("")
    L.append("## Peak RSS of each measurement process, MB (after model setup → peak)")
    L.append("")
    L += _md_table(
        RUN_COLUMNS + ["lstmininet", "PyTorch"],
        "llrrr",
        [_run_cells(r) + [_rss(r["lstmininet"]), _rss(r["torch"])] for r in rows],
    )
    problems = []
    for r in rows:
        for side in ("lstmininet", "torch"):
            s = r[side]
            where = f"{side} {r['config']}/{r['cell']}/{r['threads']}t"
            if s["skipped"]:
                problems.append(f"- {side}: skipped: {s['skipped']}")
            for phase, err in s["errors"].items():
                last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or ["?"]
                problems.append(f"- {where}: {phase} failed: `{last[0].strip()}`")
            for note in s["notes"]:
                problems.append(f"- {where}: {note}")
    if problems:
        L.append("")
        L.append("## Failures and notes")
        L.append("")
        # identical messages across runs collapse to one line each
        seen = []
        for p in problems:
            if p not in seen:
                seen.append(p)
        L.extend(seen)
    L.append("")
    return "\n".join(L)


RUN_COLUMNS = ["config", "cell", "threads"]


def roofline_rows(results: dict) -> list:
    """lstmininet generation per run x precision x samples per pass, with ratios within the run."""
    rows = []
    for r in results["runs"]:
        gens = (r.get("lstmininet") or {}).get("gen_lmn") or {}
        for precision in GEN_PRECISIONS:
            for n in GEN_BATCHES:
                g = gens.get(f"{precision}/{n}")
                if not g:
                    continue
                alone = (gens.get(f"{precision}/1") or {}).get("tokens_per_sec")
                f32 = (gens.get(f"float32/{n}") or {}).get("tokens_per_sec")
                # Weights read per step (float32 bytes / 4), each doing one multiply-add per sample:
                # the FMA-rate ceiling that batching runs into once bandwidth no longer binds.
                weights = ((gens.get("float32/1") or {}).get("bytes_per_token") or 0) / 4
                gflops = 2 * weights * g["tokens_per_sec"] / 1e9 if weights else None
                peaks = results["peak"].get(str(r["threads"]), {})
                peak = peaks.get({"int8": "int8_peak_used"}.get(precision, "peak_used"))
                if precision == "bfloat16":
                    # Without bfloat16 arithmetic (PyTorch's mm then crawls) our kernel widens to
                    # float32 multiply-adds, so the ceiling is the faster of the two peaks.
                    peak = max((p for p in (peak, peaks.get("bf16_peak_used")) if p), default=None)
                rows.append(
                    dict(
                        config=r["config"],
                        cell=r["cell"],
                        threads=r["threads"],
                        precision=precision,
                        samples=n,
                        tokens_per_sec=g["tokens_per_sec"],
                        bytes_per_token=g.get("bytes_per_token"),
                        gbs=g.get("gbs"),
                        roofline_gbs=g.get("roofline_gbs"),
                        pct_roofline=g.get("pct_roofline"),
                        vs_one=g["tokens_per_sec"] / alone if alone else None,
                        vs_float32=g["tokens_per_sec"] / f32 if f32 else None,
                        gflops=gflops,
                        # int8 products are integer dot products: their peak is the int8 GEMM's.
                        pct_peak=100 * gflops / peak if gflops and peak else None,
                    )
                )
    return rows


def roofline_markdown(results: dict) -> list:
    rows = roofline_rows(results)
    if not rows:
        return []
    kernels = {
        key: sorted({(r.get("lstmininet") or {}).get(key) for r in results["runs"]} - {None})
        for key in ("int8_kernel", "bf16_kernel", "bf16_batch_kernel")
    }
    bf16 = ", ".join(kernels["bf16_kernel"]) or "unknown"
    if kernels["bf16_batch_kernel"] and kernels["bf16_batch_kernel"] != kernels["bf16_kernel"]:
        bf16 += f" at N = 1, {', '.join(kernels['bf16_batch_kernel'])} at N > 1"
    if any((r.get("lstmininet") or {}).get("amx") for r in results["runs"]):
        bf16 = f"AMX tiles (vector kernels: {bf16})"
        kernels["int8_kernel"] = [f"{', '.join(kernels['int8_kernel'])} at N = 1, AMX tiles at N > 1"]
    L = ["## lstmininet generation at the memory roofline", ""]
    L.append(
        "Per token, generation reads every weight once per step, and a step serves N samples "
        "(`generate(..., num_samples=N)`), so bytes/token = weight bytes / N. GB/s = tokens/s x bytes/token. "
        "Roofline = the streaming-read bandwidth of our own SIMD kernel (`lstmininet._core.read_bandwidth`) "
        "over a buffer of the weights' size at the same thread count, measured in the same process. "
        f"int8 dot-product kernel: {', '.join(kernels['int8_kernel']) or 'unknown'}; "
        f"bfloat16: {bf16}. "
        "x N=1: tokens/s over the same precision at N = 1; x float32: over float32 at the same N (same run). "
        "GOP/s = 2 x weights x tokens/s (one multiply-add per weight per sample); % peak = of the SGEMM peak "
        "above at the same thread count for float32, of the bfloat16 GEMM peak or the SGEMM peak, whichever "
        "is higher, for bfloat16 and of the int8 GEMM peak for int8: once N samples share each weight read, "
        "this arithmetic rate, not bandwidth, bounds the speed-up over N = 1."
    )
    L.append("")
    L += _md_table(
        RUN_COLUMNS
        + ["precision", "N", "tok/s", "bytes/token", "GB/s", "roofline GB/s", "% roofline", "x N=1", "x float32"]
        + ["GOP/s", "% peak"],
        "llrlr" + "r" * 9,
        [
            [r["config"], r["cell"], r["threads"], r["precision"], r["samples"], fmt(r["tokens_per_sec"])]
            + [
                fmt(r["bytes_per_token"]),
                fmt(r["gbs"], ".1f"),
                fmt(r["roofline_gbs"], ".1f"),
                fmt(r["pct_roofline"], ".0f"),
                fmt(r["vs_one"], ".1f"),
                fmt(r["vs_float32"], ".2f"),
                fmt(r["gflops"], ".1f"),
                fmt(r["pct_peak"], ".0f"),
            ]
            for r in rows
        ],
    )
    L.append("")
    return L


def quality_markdown(results: dict) -> list:
    quality = results.get("quality")
    if not quality:
        if results.get("quality_errors"):
            return ["## Held-out loss per generation precision", "", "FAILED (see `quality_errors` in the JSON)", ""]
        return []
    L = ["## Held-out loss per generation precision", ""]
    L.append(
        "LSTMs trained for a few epochs on 90% of each dataset; loss (nats/token) on the other 10%, stepped "
        "through the generation stepper (`generation_loss`) with each weight precision. "
        "Change = relative to float32."
    )
    L.append("")
    table = []
    for q in quality:
        if q.get("failed"):
            table.append([q["dataset"], q["config"]] + ["FAILED"] * 6)
            continue
        base = q["float32"]["loss"]
        cells = [q["dataset"], q["config"], q["epochs"], f"{q['train_loss']:.4f}", f"{base:.4f}"]
        for precision in GEN_PRECISIONS[1:]:
            loss = q[precision]["loss"]
            cells.append(f"{loss:.4f} ({100.0 * (loss - base) / base:+.2f}%)")
        cells.append(fmt(q["float32"]["tokens"]))
        table.append(cells)
    L += _md_table(
        ["dataset", "config", "epochs", "train loss", "float32", "bfloat16 (change)", "int8 (change)", "tokens"],
        "llrrrrrr",
        table,
    )
    L.append("")
    if results.get("quality_errors"):
        L += ["FAILED in parts (see `quality_errors` in the JSON).", ""]
    return L


def _run_cells(row: dict) -> list:
    return [row["config"], row["cell"], row["threads"]]


def _md_table(header: list, align: str, rows: list) -> list:
    """Markdown table lines; align holds 'l' or 'r' per column."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(str(c) for c in cells) + " |" for cells in [header, *rows]]
    return [lines[0], rule, *lines[1:]]


def _cell(s: dict, phase: str) -> str:
    key = phase + "_tps"
    if s[key] is not None:
        return fmt(s[key])
    if s["skipped"]:
        return "skipped"
    return "FAILED" if (phase in s["errors"] or "setup" in s["errors"] or "child" in s["errors"]) else "—"


def _gf(s: dict) -> str:
    if s["gflops"] is None:
        return "—"
    return f"{s['gflops']:.1f} ({fmt(s['pct_peak'], '.0f')}%)"


def _rss(s: dict) -> str:
    if s["rss_peak"] is None:
        return "—"
    return f"{fmt(s['rss_setup'], '.0f')} → {s['rss_peak']:.0f}"


def measure_peak(args, results: dict, settings: dict, threads: list, sides: list, missing: dict) -> None:
    """The SGEMM peak at each thread count, best of the repeats."""
    for n in threads:
        best = None
        for _ in range(args.repeat):
            print(f"[bench] SGEMM peak, {n} thread(s) ...", file=sys.stderr, flush=True)
            res = launch(
                dict(settings, side="peak", threads=n, torch_available="torch" in sides and not missing.get("torch")),
                args.timeout,
            )
            if res.get("errors"):
                print(f"[bench]   peak failed: {res['errors']}", file=sys.stderr)
            else:
                print(f"[bench]   {res['peak_gflops']:.1f} GFLOP/s", file=sys.stderr)
            if best is None or (res.get("peak_gflops") or 0) > (best.get("peak_gflops") or 0):
                best = res
        results["peak"][str(n)] = best
    # More threads cannot lower the true peak: a lower figure at n threads
    # means the measurement was disturbed, so use the best at <= n threads.
    for n in threads:
        measured = [results["peak"][str(k)].get("peak_gflops") for k in threads if k <= n]
        measured = [g for g in measured if g]
        if measured:
            results["peak"][str(n)]["peak_used"] = max(measured)
        for key in ("int8_peak_gops", "bf16_peak_gflops"):
            low = [g for k in threads if k <= n and (g := results["peak"][str(k)].get(key))]
            if low:
                results["peak"][str(n)][key.split("_peak")[0] + "_peak_used"] = max(low)


def measure_runs(args, results: dict, settings: dict, configs, cells, threads, sides, missing) -> None:
    """Every config x cell x thread count, both sides alternating, best of the repeats."""
    for c in configs:
        for cell in cells:
            for n in threads:
                run = dict(config=c, cell=cell, threads=n)
                attempts = {side: [] for side in sides}
                for rep in range(args.repeat):  # sides alternate, so drifts hit both alike
                    for side in sides:
                        if missing.get(side):
                            continue
                        tag = f" (repeat {rep + 1}/{args.repeat})" if args.repeat > 1 else ""
                        print(f"[bench] {side:10s} {c}/{cell}/{n}t{tag} ...", file=sys.stderr, flush=True, end="")
                        spec = dict(settings, side=side, cfg=CONFIGS[c], cell=cell, threads=n)
                        res = launch(spec, args.timeout)
                        attempts[side].append(res)
                        results["versions"].update(res.get("versions") or {})
                        tr = (res.get("train") or {}).get("tokens_per_sec")
                        gn = (res.get("gen") or {}).get("tokens_per_sec")
                        msg = f" train {fmt(tr)} tok/s, gen {fmt(gn)} tok/s"
                        if res.get("errors"):
                            msg += f"  [errors in: {', '.join(res['errors'])}]"
                        print(msg, file=sys.stderr, flush=True)
                for side in sides:
                    if missing.get(side):
                        run[side] = dict(skipped=missing[side], errors={}, notes=[])
                    else:
                        run[side] = best_of(attempts[side])
                results["runs"].append(run)


def run_failed(results: dict) -> bool:
    """Whether any part of the run failed: a measurement, the SGEMM peak at some thread count, the quality phase."""
    runs = any((r.get(side) or {}).get("errors") for r in results["runs"] for side in ("lstmininet", "torch"))
    peak = any((p or {}).get("errors") for p in results["peak"].values())
    return runs or peak or bool(results.get("quality_errors"))


def positive_seconds(text: str) -> float:
    """--timeout, --train-time, --gen-time: a finite number of seconds > 0 (checked before any work)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0: {text!r}")
    return value


def count_list(minimum: int, what: str):
    """An argparse type: a comma list of whole numbers, each >= minimum (--threads here, thread_tuning's --busy)."""

    def parse(text: str) -> list:
        try:
            counts = [int(t) for t in text.split(",")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a comma list of whole numbers: {text!r}") from None
        if any(n < minimum for n in counts):
            raise argparse.ArgumentTypeError(f"{what} must be >= {minimum}: {text!r}")
        return counts

    return parse


def prepare_out(out: pathlib.Path) -> str | None:
    """Create the result folder and check that it takes a file, before any measuring (a run lasts minutes,
    and a file in the way or a read-only folder found at the end loses them); the error, or None."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        return f"cannot write results to {out}: {exc}"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="LSTMiniNet vs PyTorch CPU benchmark (see module docstring)")
    ap.add_argument("--quick", action="store_true", help="short smoke run: melody+char, 1 thread, short timings")
    ap.add_argument(
        "--configs", default=None, help=f"comma list from {','.join(CONFIGS)} (default: all; --quick: melody,char)"
    )
    ap.add_argument("--cells", default="lstm,gru")
    ap.add_argument(
        "--threads", type=count_list(1, "thread counts"), default=None, help="comma list (default 1,2; --quick: 1)"
    )
    ap.add_argument("--sides", default="lstmininet,torch")
    ap.add_argument(
        "--out",
        default=None,
        help="result folder (default: benchmarks/results/<cpu>/, with a quick/ subfolder for --quick); "
        "results of another CPU there are never overwritten",
    )
    ap.add_argument("--train-time", type=positive_seconds, default=None, help="seconds of timed training per run")
    ap.add_argument("--gen-time", type=positive_seconds, default=None, help="seconds of timed generation per run")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each case N times, sides alternating, and keep the fastest (use 3 on a busy machine)",
    )
    ap.add_argument("--timeout", type=positive_seconds, default=600.0, help="per child process, seconds")
    ap.add_argument(
        "--busy",
        type=int,
        default=0,
        help="run N competing busy processes (a Python spin loop each) through every measurement, both libraries "
        "alike; training then runs >= 6 s per measurement, and results go to <cpu>/busy<N>/",
    )
    ap.add_argument(
        "--no-quality",
        action="store_true",
        help="skip the int8/bfloat16 quality phase (trains a melody and a text model, compares held-out losses)",
    )
    ap.add_argument(
        "--cpu-name",
        default=None,
        help="name this CPU's result folder (needed where /proc/cpuinfo cannot tell it apart: a generic virtual "
        "CPU, no model name, a hidden model number without family/model or L3 size)",
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="replace this CPU's stored results even when this run measures less than they hold, fails in "
        "parts, or they cannot be read (another CPU's results are never replaced)",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child is not None:
        run_child(json.loads(args.child))
        return 0
    exit_on_sigterm()

    configs = (args.configs or ("melody,char" if args.quick else ",".join(CONFIGS))).split(",")
    cells = args.cells.split(",")
    threads = args.threads or ([1] if args.quick else [1, 2])
    sides = args.sides.split(",")
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; choose from {', '.join(CONFIGS)}")
    for c in cells:
        if c not in GATES:
            ap.error(f"unknown cell {c!r}; choose lstm or gru")
    for s in sides:
        if s not in ("lstmininet", "torch"):
            ap.error(f"unknown side {s!r}")

    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    identity = cpu_identity()
    if args.cpu_name is not None:
        identity = named_cpu(identity, args.cpu_name)
        if identity is None:
            ap.error(f"--cpu-name {args.cpu_name!r} has no letters or digits to name a folder with")
    elif identity["problem"]:
        ap.error(
            f"cannot name this CPU's results reliably: {identity['problem']}; pass --cpu-name NAME "
            "(the CPU model, e.g. --cpu-name 'AMD EPYC 7763') to name it"
        )
    this_cpu = identity["slug"]
    if args.busy < 0:
        ap.error("--busy must be >= 0")
    # Each kind of run keeps its own folder: quick, busy and quick busy runs never replace full idle ones.
    subfolder = pathlib.Path(f"busy{args.busy}" if args.busy else "", "quick" if args.quick else "")
    out = pathlib.Path(args.out) if args.out else HERE / "results" / cpu_folder(identity, HERE / "results") / subfolder
    try:
        stored = read_stored(out)
    except StoredResultsError as exc:
        if not args.force:
            ap.error(f"{exc}; move it away, choose another --out, or pass --force to replace it")
        stored = None
    if stored and not same_cpu(stored, out, identity):
        ap.error(
            f"{out} holds results from another CPU ({stored_cpu(stored, out)}); this one is {this_cpu}: "
            "choose another --out"
        )
    missing = {s: side_available(s) for s in sides}
    if stored and not args.force:
        planned = [dict(config=c, cell=cell, threads=n) for c in configs for cell in cells for n in threads]
        planned = [dict(r, **{s: {} for s in sides if not missing[s]}) for r in planned]
        lstmininet_runs = "lstmininet" in sides and not missing["lstmininet"]
        gaps = missing_from(
            coverage(planned, not args.no_quality and lstmininet_runs),
            coverage(stored.get("runs") or [], bool(stored.get("quality"))),
        )
        old = stored.get("settings") or {}
        if (bool(old.get("quick")), old.get("busy") or 0) != (args.quick, args.busy):
            gaps.append(f"another kind of run (quick {bool(old.get('quick'))}, busy {old.get('busy') or 0})")
        if gaps:
            ap.error(
                f"{out} holds results that this run would not measure ({', '.join(gaps)}): a partial run does "
                "not replace them; pass --force to replace them anyway, or --out DIR to write elsewhere"
            )
    problem = prepare_out(out)
    if problem:
        ap.error(problem)
    settings = dict(
        quick=args.quick,
        repeat=args.repeat,
        # Under load, training runs long enough for lstmininet's thread tuner to act (as in any real run).
        train_time=args.train_time
        if args.train_time is not None
        else (0.4 if args.quick else (6.0 if args.busy else 2.0)),
        busy=args.busy,
        warmup_time=0.1 if args.quick else 0.3,
        min_steps=2 if args.quick else 3,
        min_warmup_steps=1,
        max_steps=100000,
        n_batch_variants=4,
        gen_time=args.gen_time if args.gen_time is not None else (0.3 if args.quick else 1.0),
        gen_warmup_tokens=16 if args.quick else 32,
        gen_max_tokens=200000,
        roofline_time=0.1 if args.quick else 0.3,
        quality=not args.no_quality,
        quality_epochs=dict(melody=1, char=1) if args.quick else dict(melody=5, char=15),
        peak_sizes=[512] if args.quick else [512, 1024],
        peak_reps=3 if args.quick else 5,
    )
    results = dict(
        started=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        machine=machine_info(identity),
        settings=settings,
        versions={},
        unavailable={k: v for k, v in missing.items() if v},
        flops_per_token={
            f"{c}/{cell}": dict(
                forward=forward_matmul_flops_per_token(CONFIGS[c], cell),
                train=train_matmul_flops_per_token(CONFIGS[c], cell),
            )
            for c in configs
            for cell in cells
        },
        peak={},
        runs=[],
    )
    results["loadavg_1min_at_start"] = _loadavg()
    if (results["loadavg_1min_at_start"] or 0) > 0.5:
        print(
            f"[bench] warning: 1-min load average is {results['loadavg_1min_at_start']} before starting; "
            "other processes will disturb the numbers (most of all at 2 threads)",
            file=sys.stderr,
        )
    for s, why in results["unavailable"].items():
        print(f"[bench] {s} unavailable: {why}", file=sys.stderr)

    t_start = time.perf_counter()
    measure_peak(args, results, settings, threads, sides, missing)  # before any competing load
    builds = [p.get("lstmininet_build") for p in results["peak"].values() if p.get("lstmininet_build")]
    results["lstmininet_build"] = builds[0] if builds else None
    hogs = []
    try:  # the busy processes start inside the try, so an error or SIGTERM between two still stops them
        for _ in range(args.busy):
            hogs.append(busy_process())
        measure_runs(args, results, settings, configs, cells, threads, sides, missing)
    finally:
        stop_processes(hogs)
    if settings["quality"] and "lstmininet" in sides and not missing.get("lstmininet"):
        print("[bench] quality: training a melody and a text model, held-out loss per precision ...", file=sys.stderr)
        res = launch(dict(settings, side="quality", threads=max(threads)), args.timeout)
        results["quality"] = res.get("quality")
        if res.get("errors"):
            results["quality_errors"] = res["errors"]
            print(f"[bench]   quality failed: {res['errors']}", file=sys.stderr)
    results["elapsed_s"] = time.perf_counter() - t_start
    results["summary"] = summarize(results)

    failed = run_failed(results)
    name = "bench"
    if failed and stored and not args.force:  # a failed run does not replace complete results
        name = "bench-failed"
        print(f"[bench] parts failed: the stored results in {out} stay; this run goes to {name}.*", file=sys.stderr)
    write_atomically(out / f"{name}.json", json.dumps(results, indent=1))
    text = markdown(results)
    write_atomically(out / f"{name}.md", text)
    print(f"[bench] done in {results['elapsed_s']:.0f} s: {out / name}.md, {out / name}.json", file=sys.stderr)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
