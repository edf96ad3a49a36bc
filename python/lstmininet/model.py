"""The user-facing models, `LSTM` and `GRU`: thin wrappers over the C++ core.

Numerics live in C++ (`lstmininet._core`); this file converts and checks
arguments, shows progress, and keeps the tokenizer with the weights.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sys
import warnings
from collections.abc import Iterable, Mapping

import numpy as np

from . import _core
from .conditioning import conditioned_primer
from .interop import build_torch_module, config_from_state_dict, float32_arrays, numpy_state_dict, unwrap_module
from .onnx_export import build_onnx_model, save_onnx
from .splits import split_dataset
from .tokenizers import BOS, MelodyTokenizer, tokenizer_from_dict

_CHECKPOINT_FORMAT = "lstmininet-model"
GENERATION_PRECISIONS = ("float32", "bfloat16", "int8")


_INT32_MAX = 2**31 - 1
_UINT64_MAX = 2**64 - 1


def _check_int(value, name: str, minimum: int = 1, maximum: int = _INT32_MAX) -> int:
    """The value as an int in [minimum, maximum] (the C++ core takes 32-bit ints; seeds are 64-bit)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def _as_int_array(values, what: str) -> np.ndarray:
    """An integer ndarray from ints, rejecting NaN, fractions and strings by name."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "USb":
        raise TypeError(f"{what} must contain integer token ids, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if np.isnan(arr).any():
            raise ValueError(f"{what} contains NaN")
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{what} contains non-integer values")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must contain integer token ids, got dtype {arr.dtype}")
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise IndexError(f"{what} contains a token id outside the 32-bit range")
    return arr.astype(np.int32)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)


def _float32(value, name: str) -> float:
    """A number the core takes as float32: one beyond its range is refused as given (the core saw infinity and
    quoted that)."""
    number = float(value)
    if math.isfinite(number) and abs(number) > _FLOAT32_MAX:
        raise ValueError(f"{name} must be within float32's range, got {value!r}")
    return number


def sample_seed(seed: int, index: int) -> int:
    """The seed of sample ``index`` of a batch drawn with ``seed``
    (``generate(..., num_samples=N)``): drawn alone with it, a sample is the same."""
    seed = _check_int(seed, "seed", minimum=0, maximum=_UINT64_MAX)
    return _core.sample_seed(seed, _check_int(index, "index", minimum=0, maximum=_UINT64_MAX))


def _is_primer_list(primer) -> bool:
    """A list of primers (one per sample) rather than one primer: a list of
    sequences, or a 2-D array (one row per sample, as forward's (B, T))."""
    if isinstance(primer, np.ndarray):
        return primer.ndim == 2
    # np.ndim, not np.isscalar: a 0-d array (np.array(3)) is one token id
    return isinstance(primer, (list, tuple)) and len(primer) > 0 and np.ndim(primer[0]) > 0


def _primer_ids(primer, what: str) -> list[int]:
    if primer is None:
        raise TypeError(f"{what} is None: pass token ids, or meter= / key= to start from a tune header alone")
    ids = _as_int_array(primer, what)
    if ids.ndim > 1:  # flattening would join several primers into one
        raise ValueError(f"{what} must be a sequence of token ids, got an array of shape {ids.shape}")
    ids = ids.reshape(-1).tolist()
    if not ids:
        raise ValueError(f"{what} must hold at least one token")
    return ids


def _as_batch(tokens, what: str) -> np.ndarray:
    arr = _as_int_array(tokens, what)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{what} must have shape (batch, time), got {arr.shape}")
    return np.ascontiguousarray(arr)


def _as_sequences(data, what: str) -> list[list[int]]:
    """A list of token sequences from a list of lists/arrays or a 2-D array."""
    if isinstance(data, np.ndarray):
        data = [data] if data.ndim == 1 else list(data)
    if not isinstance(data, Iterable) or isinstance(data, (str, bytes)):
        raise TypeError(f"{what} must be a list of token sequences")
    sequences = []
    for i, seq in enumerate(data):
        arr = _as_int_array(seq, f"{what}[{i}]")
        if arr.ndim != 1:
            raise ValueError(f"{what}[{i}] must be a 1-D sequence of token ids, got shape {arr.shape}")
        sequences.append(arr.tolist())
    if not sequences:
        raise ValueError(f"{what} is empty")
    return sequences


_HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "tokens_per_sec", "seconds", "lr")


class History(dict):
    """Per-epoch lists (`epoch`, `train_loss`, `val_loss`, `val_accuracy`,
    `tokens_per_sec`, `seconds`, `lr`) plus how the run ended."""

    interrupted: bool = False
    stopped_early: bool = False
    best_epoch: int = 0  # the best validation loss so far: maybe of an earlier fit on the same validation data
    best_val_loss: float = math.nan
    restored_best: bool = False  # stopped early and went back to best_epoch's weights
    # Stopped inside an epoch: its batches done (the next fit goes on from there) of `batches`; else None.
    batches_done: int | None = None
    batches: int = 0


class _ProgressBar:
    """Training progress on stderr: one tqdm bar per epoch on a terminal, one line per epoch otherwise.

    A bar redrawn into a pipe or log file leaves one line per update (thousands per run),
    so when stderr is not a terminal only the epoch summaries are written.
    """

    def __init__(self, epochs: int, first_epoch: int, interactive: bool | None = None):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bar = None
        self._epochs = epochs
        self._first_epoch = first_epoch
        self._interactive = _stderr_is_terminal() if interactive is None else interactive

    def __call__(self, epoch, batch, batches, loss, tokens_per_sec):
        if not self._interactive:
            return True
        label = f"epoch {epoch - self._first_epoch}/{self._epochs}"
        if self._bar is not None and self._bar.desc != label:  # a new epoch starts a fresh bar
            self._bar.close()
            self._bar = None
        if self._bar is None:  # a resumed epoch's bar starts at the batches already done
            self._bar = self._tqdm(total=batches, initial=batch - 1, unit="batch", dynamic_ncols=True, desc=label)
        self._bar.set_postfix(loss=f"{loss:.4f}", tok_s=f"{tokens_per_sec:,.0f}", refresh=False)
        self._bar.update(1)
        return True

    def epoch_done(self, row):
        text = f"epoch {row['epoch']}: train {row['train_loss']:.4f}"
        if not math.isnan(row["val_loss"]):
            text += f", val {row['val_loss']:.4f}"
        if self._bar is not None:
            if not math.isnan(row["val_loss"]):
                self._bar.write(text)
        elif not self._interactive:
            print(f"{text}, {row['tokens_per_sec']:,.0f} tokens/s", file=sys.stderr, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()


def _stderr_is_terminal() -> bool:
    if "ipykernel" in sys.modules:  # a notebook draws tqdm.auto's widget, not text lines
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


# An epoch's training loss this many times the first step's is reported.
LOSS_CLIMB_WARNING_FACTOR = 2.0


def _warn_if_loss_climbed(first_loss: float | None, history: History, resumed_epoch: bool) -> None:
    """Warn when training made the loss far worse than it started (a learning rate too high).

    A resumed epoch's loss also averages the steps before the stop, when the
    loss was higher than at this call's first step: it is not compared."""
    if first_loss is None or not first_loss > 0:
        return
    rows = list(zip(history["epoch"], history["train_loss"], strict=True))
    for epoch, loss in rows[1:] if resumed_epoch else rows:
        if loss > LOSS_CLIMB_WARNING_FACTOR * first_loss:
            warnings.warn(
                f"training loss rose from {first_loss:.4g} at the first step to {loss:.4g} in epoch {epoch} "
                "(more than twice its start): the learning rate is probably too high",
                RuntimeWarning,
                stacklevel=3,
            )
            return


class _RecurrentModel:
    _cell = ""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 128,
        num_layers: int = 1,
        embedding_dim: int | None = None,
        dropout: float = 0.0,
        seed: int | None = None,
        tokenizer=None,
    ):
        vocab_size = _check_int(vocab_size, "vocab_size")
        hidden_size = _check_int(hidden_size, "hidden_size")
        num_layers = _check_int(num_layers, "num_layers")
        if embedding_dim is not None:
            embedding_dim = _check_int(embedding_dim, "embedding_dim")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        self.seed = _check_int(seed, "seed", minimum=0, maximum=_UINT64_MAX)
        if tokenizer is not None and len(tokenizer) != vocab_size:
            raise ValueError(f"tokenizer has {len(tokenizer)} tokens but vocab_size is {vocab_size}")
        self.tokenizer = tokenizer
        self._core = _core.Model(
            self._cell, vocab_size, hidden_size, num_layers, embedding_dim or 0, float(dropout), self.seed
        )

    # -- description --------------------------------------------------------
    @property
    def config(self) -> dict:
        return dict(self._core.config)

    @property
    def vocab_size(self) -> int:
        return self._core.config["vocab_size"]

    @property
    def epochs_done(self) -> int:
        return self._core.epochs_done

    @property
    def batches_done(self) -> int | None:
        """The batches done of the epoch training stopped inside (fit goes on from there), else None."""
        position = self._core.epoch_position
        return None if position is None else position[0]

    def __repr__(self) -> str:
        c = self.config
        return (
            f"{type(self).__name__}(vocab_size={c['vocab_size']}, hidden_size={c['hidden_size']}, "
            f"num_layers={c['num_layers']}, embedding_dim={c['embedding_dim']}, dropout={c['dropout']:g})"
        )

    # -- numerics -----------------------------------------------------------
    def forward(self, tokens) -> np.ndarray:
        """Logits (B, T, V) for int tokens (B, T), from a zero initial state."""
        return self._core.forward(_as_batch(tokens, "tokens"))

    def loss_and_grads(self, inputs, targets) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy over all positions and the gradient of every parameter."""
        return self._core.loss_and_grads(_as_batch(inputs, "inputs"), _as_batch(targets, "targets"))

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters under torch.nn names and layouts."""
        return self._core.state_dict()

    def load_state_dict(self, state: Mapping) -> None:
        """Load parameters by torch.nn name; torch tensors are accepted as they are."""
        self._core.load_state_dict(float32_arrays(state))

    # -- hand-off to PyTorch and ONNX ----------------------------------------
    def to_torch(self):
        """This network as a ``torch.nn.Module`` with a copy of the weights (needs torch).

        Embedding (or one-hot) -> ``nn.LSTM``/``nn.GRU`` (batch_first) -> ``nn.Linear``,
        ``forward(tokens, state=None) -> (logits, state)``; its ``state_dict()``
        has the names of ours. The module also carries ``tokenizer`` and
        ``seed``, which ``lstmininet.from_torch`` picks up again. It comes in
        eval mode, computing ``forward``'s logits; call ``module.train()`` to
        fine-tune it with dropout. See ``lstmininet.interop``.
        """
        module = build_torch_module(self.config, self.state_dict())
        module.eval()  # torch's default, training mode, would apply dropout to every call
        module.tokenizer = self.tokenizer
        module.seed = self.seed
        return module

    def export_onnx(
        self,
        path: str | os.PathLike,
        dynamic_batch: bool = True,
        dynamic_time: bool = True,
        *,
        batch_size: int | None = None,
        seq_len: int | None = None,
    ) -> None:
        """Write this model as an ONNX file of standard operators (needs onnx).

        Input ``tokens`` int64 (B, T), optional ``initial_h`` (and ``initial_c``)
        (L, 1 or B, H); outputs ``logits`` (B, T, V) and ``final_h`` (``final_c``).
        A fixed axis (``dynamic_batch=False`` / ``dynamic_time=False``) has
        size ``batch_size`` / ``seq_len``, default 1. The tokenizer is stored
        in the file's metadata. The file is replaced atomically, as ``save``
        replaces a checkpoint; weights of 2 GiB or more do not fit in an ONNX
        file (ValueError). See ``lstmininet.onnx_export``.
        """
        tokenizer = None if self.tokenizer is None else self.tokenizer.to_dict()
        proto = build_onnx_model(
            self.config,
            self.state_dict(),
            tokenizer,
            dynamic_batch=dynamic_batch,
            dynamic_time=dynamic_time,
            batch_size=batch_size,
            seq_len=seq_len,
        )
        save_onnx(proto, path)

    # -- training -----------------------------------------------------------
    def fit(
        self,
        sequences,
        epochs: int = 10,
        batch_size: int = 32,
        seq_len: int = 64,
        lr: float = 1e-3,
        optimizer: str = "adam",
        momentum: float = 0.0,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        weight_decay: float = 0.0,
        truncate: int | None = None,
        val_data=None,
        val_fraction: float = 0.0,
        lr_step_epochs: int | None = None,
        lr_gamma: float = 0.5,
        patience: int | None = None,
        seed: int | None = None,
        progress: bool = True,
        on_epoch=None,
        tune_threads: bool = True,
    ) -> History:
        """Train on token sequences; returns the per-epoch History.

        Every position predicts the next token. Sequences are cut into windows
        of `seq_len`; `truncate` backpropagates that many steps at a time,
        carrying the state across chunks. Calling fit again continues (the
        optimizer state and epoch count carry over, also through save/load).
        Ctrl-C stops between optimizer steps and returns with `interrupted`
        set (and `batches_done`, when inside an epoch); so does `on_epoch(row)`
        returning False. Fitting again on the same data with the same
        batch_size, seq_len and truncate goes on from the next step, exactly
        as if never stopped (through save/load too). With `patience`, training
        stops after that many epochs without a better validation loss and
        ends on the best weights. `val_fraction` holds out sequences with
        `lstmininet.datasets.split_dataset(sequences, val_fraction, seed=seed)`,
        so the held-out set is the one `split_dataset` gives for that seed.
        `tune_threads` times the steps and trains on one thread when that is
        faster than the thread setting (as when another process keeps a core
        busy), trying the setting again now and then; the results are the
        same either way. False: always the setting.
        """
        options = _fit_options(locals())
        train = _as_sequences(sequences, "sequences")
        if val_data is not None:
            val = _as_sequences(val_data, "val_data")
        elif val_fraction:
            train, val, _ = split_dataset(train, val_fraction=float(val_fraction), seed=options["seed"])
        else:
            val = []
        return _run_fit(
            lambda bar, epoch_done: self._core.fit(train, val, options, bar, epoch_done),
            options["epochs"],
            self,
            progress,
            on_epoch,
        )

    def evaluate(self, sequences, batch_size: int = 64, seq_len: int = 256) -> dict:
        """Mean next-token loss, perplexity and accuracy over the sequences."""
        data = _as_sequences(sequences, "sequences")
        return self._core.evaluate(data, _check_int(batch_size, "batch_size"), _check_int(seq_len, "seq_len"))

    # -- generation ---------------------------------------------------------
    def generate(
        self,
        primer,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        stop_token: int | None = None,
        precision: str = "float32",
        num_samples: int | None = None,
        meter: str | None = None,
        key: str | None = None,
    ) -> list[int] | list[list[int]]:
        """Feed `primer` (token ids), then sample `length` new tokens in C++.

        temperature 0 is greedy; top_k keeps the k likeliest tokens; top_p keeps
        the smallest set whose probability reaches p. precision "bfloat16"
        reads a copy of the weights rounded to bfloat16 (about 3 significant
        digits) and rounds each product's inputs the same way, summing in
        float32 (AVX512_BF16 dot products where the CPU has them): generation
        reads every weight per token, so this is up to twice as fast on larger
        models, but the probabilities, and so the samples, differ slightly
        from float32.
        precision "int8" reads int8 weights (each output row scaled by its
        largest weight) and rounds each step's inputs to steps of 1/64 of
        their largest, so the products run as integer dot products (VNNI where the CPU has it):
        a quarter of the bytes of float32, at a small cost in accuracy that
        ``benchmarks/bench.py`` measures as held-out loss.
        Returns the new tokens.

        num_samples=N (or a list of primers, one per sample) samples N
        sequences in one pass, each weight read serving all of them, and
        returns N token lists; each ends at `length` or at its own stop token.
        Sample i draws from its own random stream, seeded with
        ``lstmininet.sample_seed(seed, i)``: it is exactly what
        ``generate(primer_i, length, ..., seed=sample_seed(seed, i))`` gives.

        meter="6/8" and/or key="D" ("Em", "A dorian", ...) condition a melody
        model trained on tunes with headers: the model is fed ``<s>``, the
        header tokens (``M:6/8 K:Dmaj``), then the primer (which may then be
        empty or None; a ``<s>`` it starts with is not repeated), i.e. ``<s>``
        and ``lstmininet.conditioning.conditioned_primer``'s tokens; the tune
        with its header is ``tokenizer.decode_melody(fed + returned)``. A
        meter or key the vocabulary lacks raises ValueError listing those it knows.
        """
        if meter is not None or key is not None:
            primer = self._conditioned_primer_ids(primer, meter, key)
        if precision not in GENERATION_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(GENERATION_PRECISIONS)}, got {precision!r}")
        many = num_samples is not None or _is_primer_list(primer)
        if _is_primer_list(primer):
            primers = [_primer_ids(p, f"primer {i}") for i, p in enumerate(primer)]
            if not primers:
                raise ValueError("primer: an empty list of primers")
            if num_samples is not None and _check_int(num_samples, "num_samples") != len(primers):
                raise ValueError(f"num_samples is {num_samples} but {len(primers)} primers were given")
            self._check_generation_memory(len(primers), max(map(len, primers)))
        else:
            count = 1 if num_samples is None else _check_int(num_samples, "num_samples")
            one = _primer_ids(primer, "primer")
            self._check_generation_memory(count, len(one))  # before lists of `count` items
            primers = [one] * count
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        seed = _check_int(seed, "seed", minimum=0, maximum=_UINT64_MAX)
        seeds = [_core.sample_seed(seed, i) for i in range(len(primers))] if many else [seed]
        top_p = 1.0 if top_p is None else _float32(top_p, "top_p")
        if 0 < top_p < _FLOAT32_TINY:  # 0 in float32; any p this small keeps the likeliest token alone
            top_p = _FLOAT32_TINY
        out = self._core.generate(
            primers,
            _check_int(length, "length", minimum=0),
            _float32(temperature, "temperature"),
            0 if top_k is None else _check_int(top_k, "top_k"),
            top_p,
            seeds,
            -1 if stop_token is None else _check_int(stop_token, "stop_token", 0),
            precision,
        )
        return out if many else out[0]

    def _check_generation_memory(self, samples: int, primer_tokens: int) -> None:
        """ValueError before any work when `samples` samples of a primer would not fit in this machine's memory
        (they used to be built until a bare MemoryError, tens of seconds later). The new tokens are not counted:
        the output grows as they come, and a long run may be meant to end at a stop token or Ctrl-C."""
        c = self._core.config
        # per sample: the stepper's state, gates and logits (float32), the primer in C++ and in Python lists
        per_sample = 4 * (8 * c["hidden_size"] * c["num_layers"] + 3 * c["vocab_size"]) + 12 * primer_tokens + 128
        need = samples * per_sample
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if need > have:
            raise ValueError(
                f"num_samples {samples:,} need about {need / 2**30:,.1f} GiB before their first token, "
                f"more than this machine's {have / 2**30:,.1f} GiB of memory"
            )

    def _conditioned_primer_ids(self, primer, meter: str | None, key: str | None):
        """The primer (or list of primers) as ids, opened by ``<s>`` and the header of ``meter`` and ``key``."""
        tokenizer = self.tokenizer

        def one(ids, what):
            ids = [] if ids is None else _as_int_array(ids, what).reshape(-1).tolist()
            outside = [i for i in ids if not 0 <= i < len(tokenizer)]
            if outside:  # the IndexError generate gives without a header
                raise IndexError(f"{what} has token {outside[0]}, outside the vocabulary [0, {len(tokenizer)})")
            tokens = tokenizer.decode(ids)
            start = [BOS] if tokenizer.add_bos_eos else []
            return tokenizer.encode(start + conditioned_primer(tokenizer, tokens, meter, key))

        if not isinstance(tokenizer, MelodyTokenizer):  # before decoding ids with a tokenizer that may be None
            conditioned_primer(tokenizer, (), meter, key)  # raises the ValueError that says so
        if _is_primer_list(primer):
            return [one(p, f"primer {i}") for i, p in enumerate(primer)]
        return one(primer, "primer")

    def generation_loss(self, sequences, precision: str = "float32") -> dict:
        """Held-out loss as generation sees it, in a given weight precision.

        Each whole sequence is stepped through the generation stepper (state
        carried from its first token) and the mean next-token cross-entropy
        returned as ``{"loss", "perplexity", "tokens"}``: compare precisions
        ("float32", "bfloat16", "int8") to see what the smaller weights cost.
        """
        if precision not in GENERATION_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(GENERATION_PRECISIONS)}, got {precision!r}")
        loss, tokens = self._core.generation_loss(_as_sequences(sequences, "sequences"), precision)
        try:
            perplexity = math.exp(loss)  # as evaluate's: NaN for NaN
        except OverflowError:  # where C++'s exp gives infinity (beyond a loss of ~709.78)
            perplexity = math.inf
        return {"loss": loss, "perplexity": perplexity, "tokens": tokens}

    # -- persistence --------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write weights, optimizer state, epoch count and tokenizer atomically."""
        metadata = {
            "format": _CHECKPOINT_FORMAT,
            "seed": self.seed,
            "tokenizer": None if self.tokenizer is None else self.tokenizer.to_dict(),
        }
        vocabulary = [] if self.tokenizer is None else list(self.tokenizer.vocab)
        self._core.save(os.fspath(path), vocabulary, json.dumps(metadata))

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Load a checkpoint written by `save` (of either cell type when called
        on `lstmininet.load`; `LSTM.load` insists on an LSTM)."""
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, "is a folder, expected a checkpoint file", os.fspath(path))
        core, _vocabulary, metadata_json = _core.Model.load(os.fspath(path))
        metadata = _checkpoint_metadata(path, metadata_json)
        kind = {"lstm": LSTM, "gru": GRU}[core.config["cell"]]
        if cls is not _RecurrentModel and cls is not kind:
            raise ValueError(f"checkpoint '{path}' holds a {kind.__name__}, not a {cls.__name__}")
        model = kind.__new__(kind)
        model._core = core
        model.seed = metadata.get("seed", 0)
        model.tokenizer = None
        if metadata.get("tokenizer"):
            try:
                model.tokenizer = tokenizer_from_dict(metadata["tokenizer"])
            except ValueError as err:
                raise ValueError(f"checkpoint '{path}' has a damaged tokenizer: {err}") from None
            if len(model.tokenizer) != core.config["vocab_size"]:
                raise ValueError(
                    f"checkpoint '{path}' has a tokenizer of {len(model.tokenizer)} tokens "
                    f"for a model of {core.config['vocab_size']}"
                )
        return model


def _checkpoint_metadata(path, metadata_json: str) -> dict:
    """The checkpoint's metadata object, checked; ValueError naming the file otherwise.

    The checksum only says the bytes are the ones written: the JSON may
    still come from another program or a hand edit.
    """
    where = f"checkpoint '{os.fspath(path)}'"
    try:
        metadata = json.loads(metadata_json)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where} has unreadable metadata: {err}") from None
    except RecursionError:  # the C scanner recurses once per nested [ or {
        raise ValueError(f"{where} has unreadable metadata: nested too deeply") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{where} has damaged metadata: expected a JSON object, got {type(metadata).__name__}")
    seed = metadata.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"{where} has damaged metadata: seed {seed!r} is not an integer in 0..2^64-1")
    tokenizer = metadata.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, dict):
        raise ValueError(f"{where} has damaged metadata: tokenizer is a {type(tokenizer).__name__}, not an object")
    return metadata


class LSTM(_RecurrentModel):
    """Embedding (or one-hot) -> stacked LSTM -> linear, torch.nn-compatible weights."""

    _cell = "lstm"


class GRU(_RecurrentModel):
    """Embedding (or one-hot) -> stacked GRU -> linear, torch.nn-compatible weights."""

    _cell = "gru"


def load(path: str | os.PathLike) -> LSTM | GRU:
    """Load any LSTMiniNet checkpoint, whichever cell it uses."""
    return _RecurrentModel.load(path)


def from_torch(module_or_state_dict, tokenizer=None, *, dropout: float | None = None, seed: int | None = None):
    """An ``LSTM`` or ``GRU`` holding the weights of a torch module or state dict.

    Accepts what ``model.to_torch()`` returns, any module whose state dict
    has lstmininet's names (``embedding.weight`` if any, ``lstm.*`` or
    ``gru.*``, ``fc.*``; also wrapped in DataParallel, DistributedDataParallel
    or torch.compile, in any order), or such a state dict of tensors or arrays. Cell,
    vocabulary, hidden size, layers and embedding size are read from the
    shapes. ``tokenizer``, ``dropout`` and ``seed`` default to what the
    module carries (``to_torch`` sets them), else None, 0.0 and 0.
    """
    source = unwrap_module(module_or_state_dict)  # the wrapped module carries the tokenizer, seed and dropout
    state = numpy_state_dict(source)
    config = config_from_state_dict(state)
    if tokenizer is None:
        tokenizer = getattr(source, "tokenizer", None)
    if dropout is None:
        dropout = _torch_dropout(source, config["cell"])
    if seed is None:
        seed = getattr(source, "seed", None)
        seed = 0 if seed is None else seed
    cls = LSTM if config["cell"] == "lstm" else GRU
    model = cls(
        config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_layers"],
        embedding_dim=config["embedding_dim"],
        dropout=dropout,
        seed=seed,
        tokenizer=tokenizer,
    )
    model.load_state_dict(state)
    return model


def _torch_dropout(module, cell: str) -> float:
    """The dropout a torch module applies: our module's own layer, else the RNN's (between layers)."""
    p = getattr(getattr(module, "dropout", None), "p", None)  # lstmininet.interop.TorchRecurrentLM
    if p is None:
        p = getattr(getattr(module, cell, None), "dropout", None)  # a plain nn.LSTM / nn.GRU inside
    return float(p) if isinstance(p, (int, float)) else 0.0


def _fit_options(arguments: Mapping) -> dict:
    """The options of a fit() call, checked, as the core's trainer takes them (token models and regressors alike).

    `arguments` is the call's ``locals()``, taken first thing. Each public fit spells out its keywords in its
    own signature, so that help() and IDEs show them; it hands them over here whole rather than naming
    each one again. `seed` None means the model's seed.
    """
    a = arguments
    if a["val_data"] is not None and a["val_fraction"]:
        raise ValueError("give val_data or val_fraction, not both")

    def count_or_none(name: str) -> int | None:
        return None if a[name] is None else _check_int(a[name], name)

    def float_or_none(name: str) -> float | None:
        return None if a[name] is None else _float32(a[name], name)

    seed = a["seed"]
    options = dict(
        epochs=_check_int(a["epochs"], "epochs", minimum=0),
        batch_size=_check_int(a["batch_size"], "batch_size"),
        seq_len=_check_int(a["seq_len"], "seq_len"),
        lr=_float32(a["lr"], "lr"),
        optimizer=str(a["optimizer"]),
        momentum=_float32(a["momentum"], "momentum"),
        clip_norm=float_or_none("clip_norm"),
        clip_value=float_or_none("clip_value"),
        weight_decay=_float32(a["weight_decay"], "weight_decay"),
        truncate=count_or_none("truncate"),
        lr_step_epochs=count_or_none("lr_step_epochs"),
        lr_gamma=_float32(a["lr_gamma"], "lr_gamma"),
        patience=count_or_none("patience"),
        seed=a["self"].seed if seed is None else _check_int(seed, "seed", minimum=0, maximum=_UINT64_MAX),
        tune_threads=bool(a["tune_threads"]),
    )
    for key in ("clip_norm", "clip_value"):
        if options[key] is not None and not options[key] > 0:
            raise ValueError(f"{key} must be positive, got {options[key]}")
    return options


def _run_fit(core_fit, epochs: int, model, progress: bool, on_epoch, keys=_HISTORY_KEYS) -> History:
    """Runs `core_fit(bar, epoch_done)` with the progress bar and on_epoch callback; its result as a History
    of the per-epoch `keys`."""
    bar = _ProgressBar(epochs, model.epochs_done) if progress else None
    stopped_inside_an_epoch = model._core.epoch_position is not None

    def epoch_done(row):
        if bar is not None:
            bar.epoch_done(row)
        return True if on_epoch is None else on_epoch(row)

    try:
        result = core_fit(bar, epoch_done)
    finally:
        if bar is not None:
            bar.close()
    history = History({key: [row[key] for row in result["history"]] for key in keys})
    history.interrupted = result["interrupted"]
    history.stopped_early = result["stopped_early"]
    history.best_epoch = result["best_epoch"]
    history.best_val_loss = result["best_val_loss"]
    position = result["epoch_position"]
    history.batches_done = None if position is None else position[0]
    history.batches = result["batches"]
    history.restored_best = result["restored_best"]
    _warn_if_loss_climbed(result["first_loss"], history, stopped_inside_an_epoch and not result["restarted_epoch"])
    if result["restarted_epoch"]:
        warnings.warn(
            f"epoch {model.epochs_done + 1 - len(history['epoch'])} had stopped after "
            f"{result['restarted_after_batches']} batches and started again from its first batch: the training "
            "data, batch_size, seq_len or truncate differ from those it was begun with",
            RuntimeWarning,
            stacklevel=3,
        )
    if result["keyboard_interrupt"]:
        where = progress_phrase(model, history.batches)
        resume = "; fit again goes on from there" if position else ""
        print(f"Training interrupted; the model keeps its weights after {where}{resume}.")
    return history


def progress_phrase(model, batches: int | None = None) -> str:
    """'3 epochs', and where a stopped epoch stands: '3 epochs and 12 of 40 batches of epoch 4' (', 20 steps into
    batch 13' inside a truncated batch); without `batches`, '3 epochs and 12 batches of epoch 4'."""
    phrase = f"{model.epochs_done} epoch{'' if model.epochs_done == 1 else 's'}"
    position = model._core.epoch_position
    if position is not None:
        done, steps = position
        phrase += f" and {done}{'' if batches is None else f' of {batches}'} batches of epoch {model.epochs_done + 1}"
        if steps:
            phrase += f", {steps} steps into batch {done + 1}"
    return phrase
