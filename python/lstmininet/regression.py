"""`LSTMRegressor` and `GRURegressor`: recurrent networks on real-valued sequences.

Features (B, T, F) -> stacked LSTM/GRU -> linear -> outputs at every step
(B, T, O), or only at the last step (B, O) with ``many_to_one=True``.
Sequences may differ in length (give a list of (T, F) arrays). The C++ core
(`_core.Regressor`) runs the same fused recurrent kernels and the same
trainer as the token models; this file converts and checks arguments and
keeps the scalers with the weights.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Mapping

import numpy as np

from . import _core
from .interop import float32_arrays
from .model import _UINT64_MAX, History, _check_int, _checkpoint_metadata, _fit_options, _RecurrentModel, _run_fit
from .scaling import make_scaler, scaler_from_dict
from .splits import split_dataset

_CHECKPOINT_FORMAT = "lstmininet-regressor"
LOSSES = ("mse", "mae", "huber", "bce_with_logits")
# scaled probabilities leave [0, 1] (the loss goes negative), and predict would "un-scale" logits
_BCE_SCALER = "loss bce_with_logits takes targets in [0, 1] unscaled: it cannot have a target_scaler"
_HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "tokens_per_sec", "seconds", "lr")


def _numbers(value, what: str) -> np.ndarray:
    """`value` as a finite float array; errors name `what`.

    float32 stays float32, other numbers become float64: the scalers see the values before
    `_network_arrays` casts them to float32.
    """
    try:
        arr = np.asarray(value)
    except ValueError:  # numpy's "inhomogeneous shape"
        raise ValueError(f"{what} is ragged: its rows differ in length") from None
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinity")
    return arr


def _float_sequences(data, width: int, what: str) -> tuple[list[np.ndarray], bool]:
    """A list of finite (T, width) arrays (see `_numbers`), and whether `data` was one (B, T, width) array.

    A 1-D sequence counts as (T, 1) when width is 1.
    """
    stacked = isinstance(data, np.ndarray) and data.ndim == 3
    if isinstance(data, np.ndarray) and data.ndim in (1, 2) and data.dtype != object:
        raise ValueError(
            f"{what} must be a (batch, time, {width}) array or a list of (time, {width}) arrays, got shape {data.shape}"
        )
    try:
        items = list(data)
    except TypeError:
        raise TypeError(f"{what} must be a (batch, time, features) array or a list of arrays") from None
    if not items:
        raise ValueError(f"{what} is empty")
    out = []
    for i, seq in enumerate(items):
        arr = _numbers(seq, f"{what}[{i}]")
        if arr.ndim == 1 and width == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
            raise ValueError(f"{what}[{i}] has shape {arr.shape}, expected (time > 0, {width})")
        out.append(arr)
    return out, stacked


def _network_arrays(arrays, scaler, what: str) -> list[np.ndarray]:
    """The contiguous float32 arrays the core takes, scaled in float64 first (a cast before
    scaling would lose the detail of data far from 0, such as 1e8 + 3 sin t)."""
    out = []
    for i, arr in enumerate(arrays):
        if scaler is not None:
            arr = scaler._scaled(arr)
        with np.errstate(over="ignore"):
            net = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.dtype != np.float32 and not np.all(np.isfinite(net)):  # arr is finite: beyond float32's range
            scaled = " after scaling" if scaler is not None else ""
            raise ValueError(f"{what}[{i}] has a value of {np.max(np.abs(arr)):g}{scaled}, too large for float32")
        out.append(net)
    return out


def _in_units(values: np.ndarray, scaler) -> np.ndarray:
    """Network outputs (or scaled targets) in the data's units, as float64."""
    return np.asarray(values, dtype=np.float64) if scaler is None else scaler._unscaled(values)


def _last_step_targets(data, width: int, count: int, what: str) -> list[np.ndarray]:
    """Many-to-one targets: a (B, width) array (or (B,) when width is 1), or B items of `width`
    numbers -> list of (1, width), checked as `_numbers` checks sequences."""
    try:
        items = list(data)
    except TypeError:
        raise TypeError(f"{what} must be a (batch, {width}) array or a list of targets") from None
    if len(items) != count:
        raise ValueError(f"{what} has {len(items)} targets for {count} sequences")
    out = []
    for i, y in enumerate(items):
        y = _numbers(y, f"{what}[{i}]").reshape(-1)
        if y.size != width:
            raise ValueError(f"{what}[{i}] has {y.size} values, expected output_size={width}")
        out.append(y[None, :])
    return out


class _SequenceRegressor:
    _cell = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        output_size: int = 1,
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        many_to_one: bool = False,
        loss: str = "mse",
        scaler=None,
        target_scaler="same",
    ):
        """`scaler` ("standard", "minmax", a scaler object or None) scales the
        inputs; `target_scaler` the targets ("same": a scaler of the same kind
        fitted on the targets; none with loss bce_with_logits). Unfitted
        scalers are fitted on the data of the first `fit`."""
        input_size = _check_int(input_size, "input_size")
        hidden_size = _check_int(hidden_size, "hidden_size")
        num_layers = _check_int(num_layers, "num_layers")
        output_size = _check_int(output_size, "output_size")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        self.seed = _check_int(seed, "seed", minimum=0, maximum=_UINT64_MAX)
        self.many_to_one = bool(many_to_one)
        self.loss = loss
        x_scaler = make_scaler(scaler)
        if isinstance(target_scaler, str) and target_scaler == "same":
            target_scaler = None if loss == "bce_with_logits" or scaler is None else type(x_scaler)()
        y_scaler = make_scaler(target_scaler)
        if loss == "bce_with_logits" and y_scaler is not None:
            raise ValueError(_BCE_SCALER)
        self._keep_scalers(x_scaler, y_scaler)
        self._core = _core.Regressor(
            self._cell, input_size, hidden_size, num_layers, output_size, float(dropout), self.seed
        )

    # -- description --------------------------------------------------------
    @property
    def config(self) -> dict:
        return dict(self._core.config, many_to_one=self.many_to_one, loss=self.loss)

    @property
    def input_size(self) -> int:
        return self._core.config["input_size"]

    @property
    def output_size(self) -> int:
        return self._core.config["output_size"]

    @property
    def epochs_done(self) -> int:
        return self._core.epochs_done

    batches_done = _RecurrentModel.batches_done  # the same property: both read _core.epoch_position

    def __repr__(self) -> str:
        c = self.config
        return (
            f"{type(self).__name__}(input_size={c['input_size']}, hidden_size={c['hidden_size']}, "
            f"num_layers={c['num_layers']}, output_size={c['output_size']}, dropout={c['dropout']:g}, "
            f"many_to_one={self.many_to_one}, loss={self.loss!r})"
        )

    # -- scalers -------------------------------------------------------------
    def _keep_scalers(self, x_scaler, y_scaler) -> None:
        self.x_scaler, self.y_scaler = x_scaler, y_scaler
        # The first fit fits both under the lock; every other call reads both under it once (_scalers),
        # so a call racing the first fit sees both fitted or neither.
        self._scaler_lock = threading.Lock()
        self._scalers_fitted_by = None  # the first fit that fitted them, until another fit uses them

    def _scalers(self):
        """Copies of (x_scaler, y_scaler) taken together; RuntimeError if one is not fitted yet."""
        with self._scaler_lock:
            scalers = copy.copy(self.x_scaler), copy.copy(self.y_scaler)
        if any(s is not None and not s.fitted for s in scalers):
            raise RuntimeError("the scalers are not fitted yet: call fit first")
        return scalers

    def _fit_scalers(self, xs, ys):
        """Fits the scalers not fitted yet on this data, all or none, under the lock (two first fits
        fit them once); returns copies of both and a function that unfits those it fitted, unless
        another fit has used them since."""
        with self._scaler_lock:
            todo = [
                (s, data) for s, data in ((self.x_scaler, xs), (self.y_scaler, ys)) if s is not None and not s.fitted
            ]
            fitted = [copy.copy(s).fit(data) for s, data in todo]
            for (scaler, _), new in zip(todo, fitted, strict=True):
                scaler.offset, scaler.scale = new.offset, new.scale
            token = object() if todo else None
            self._scalers_fitted_by = token
            scalers = copy.copy(self.x_scaler), copy.copy(self.y_scaler)

        def take_back():
            with self._scaler_lock:
                if token is not None and self._scalers_fitted_by is token:
                    for scaler, _ in todo:
                        scaler.offset = scaler.scale = None

        return scalers, take_back

    # -- data in and out ----------------------------------------------------
    def _targets(self, Y, count: int, what="Y") -> list[np.ndarray]:
        """The targets, checked, in the data's units (many-to-one: one (1, O) array each)."""
        if self.many_to_one:
            ys = _last_step_targets(Y, self.output_size, count, what)
        else:
            ys, _ = _float_sequences(Y, self.output_size, what)
            if len(ys) != count:
                raise ValueError(f"{what} has {len(ys)} sequences for {count} input sequences")
        if self.loss == "bce_with_logits":  # probabilities: outside [0, 1] the loss goes negative
            for i, y in enumerate(ys):
                if y.size and (y.min() < 0.0 or y.max() > 1.0):
                    raise ValueError(
                        f"{what}[{i}] has a target of {float(y.min() if y.min() < 0.0 else y.max()):g}: "
                        "loss bce_with_logits needs targets in [0, 1]"
                    )
        return ys

    def _pairs(self, X, Y, x_what="X", y_what="Y", lengths_what="Y") -> tuple[list, list]:
        """Inputs and targets in the data's units, each read once (either may be a one-shot iterable), checked."""
        xs, _ = _float_sequences(X, self.input_size, x_what)
        ys = self._targets(Y, len(xs), y_what)
        if not self.many_to_one:
            for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                if x.shape[0] != y.shape[0]:
                    raise ValueError(
                        f"{lengths_what}: sequence {i} has {x.shape[0]} input steps but {y.shape[0]} target steps"
                    )
        return xs, ys

    # -- numerics -----------------------------------------------------------
    def predict(self, X, batch_size: int = 256):
        """Outputs in the targets' units: (B, T, O), or (B, O) many-to-one, for a
        (B, T, F) array; a list of (T_i, O) arrays (or a (B, O) array) for a list.
        float64 when a target scaler un-scales them (float32, whose spacing at 1e8
        is 8, would lose the detail of data far from 0), else the network's float32."""
        xs, stacked = _float_sequences(X, self.input_size, "X")
        batch_size = _check_int(batch_size, "batch_size")
        x_scaler, y_scaler = self._scalers()
        outs = self._core.predict(_network_arrays(xs, x_scaler, "X"), self.many_to_one, batch_size)
        if y_scaler is not None:
            outs = [_in_units(o, y_scaler) for o in outs]
        if self.many_to_one:
            return np.concatenate(outs, axis=0)
        return np.stack(outs) if stacked else outs

    def loss_and_grads(self, X, Y) -> tuple[float, dict[str, np.ndarray]]:
        """The loss over all targets as one batch from a zero state (on the scaled
        data) and the gradient of every parameter."""
        xs, ys = self._pairs(X, Y, lengths_what="loss_and_grads")
        x_scaler, y_scaler = self._scalers()
        xs, ys = _network_arrays(xs, x_scaler, "X"), _network_arrays(ys, y_scaler, "Y")
        return self._core.loss_and_grads(xs, ys, self.many_to_one, self.loss)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters under torch.nn names and layouts (lstm.*/gru.*, fc.*)."""
        return self._core.state_dict()

    def load_state_dict(self, state: Mapping) -> None:
        self._core.load_state_dict(float32_arrays(state))

    # -- training -----------------------------------------------------------
    def fit(
        self,
        X,
        Y,
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
        """Train on inputs X and targets Y; returns the per-epoch History.

        Targets are aligned with the inputs: Y[b][t] is the output wanted
        after step t (for one-step-ahead forecasting pass Y = X shifted by
        one). Sequences with outputs at every step are cut into windows of
        `seq_len` (many-to-one sequences are kept whole); `truncate`
        backpropagates that many steps at a time, carrying the state. The
        trainer, resuming, Ctrl-C, `patience` and `on_epoch` behave as in
        `LSTM.fit`; losses are in scaled units. `val_data` is a pair
        (X_val, Y_val); `val_fraction` holds out whole sequences with
        `split_dataset(..., seed=seed)`.
        """
        options = _fit_options(locals())
        # Everything is read (once: X and Y may be generators) and checked before the scalers learn the data.
        xs, ys = self._pairs(X, Y)
        if val_data is not None:
            if not (isinstance(val_data, (tuple, list)) and len(val_data) == 2):
                raise TypeError("val_data must be a pair (X_val, Y_val)")
            val_x, val_y = self._pairs(*val_data, "val_data X", "val_data Y", "val_data")
        else:
            val_x, val_y = [], []
        (x_scaler, y_scaler), take_back = self._fit_scalers(xs, ys)
        before = (self.epochs_done, self.batches_done)
        try:
            xs, ys = _network_arrays(xs, x_scaler, "X"), _network_arrays(ys, y_scaler, "Y")
            val_x = _network_arrays(val_x, x_scaler, "val_data X")
            val_y = _network_arrays(val_y, y_scaler, "val_data Y")
            if val_fraction:
                train_idx, val_idx, _ = split_dataset(
                    list(range(len(xs))), val_fraction=float(val_fraction), seed=options["seed"]
                )
                val_x, val_y = [xs[i] for i in val_idx], [ys[i] for i in val_idx]
                xs, ys = [xs[i] for i in train_idx], [ys[i] for i in train_idx]
            return _run_fit(
                lambda bar, epoch_done: self._core.fit(
                    xs, ys, val_x, val_y, self.many_to_one, self.loss, options, bar, epoch_done
                ),
                options["epochs"],
                self,
                progress,
                on_epoch,
                _HISTORY_KEYS,
            )
        except BaseException:
            # Refused before its first step (the core checks lr, for one): leave the scalers as they were.
            if (self.epochs_done, self.batches_done) == before:
                take_back()
            raise

    def evaluate(self, X, Y, batch_size: int = 64, seq_len: int = 256) -> dict:
        """`loss`: the training loss on (scaled) data; `mse` and `mae`: in the targets' units."""
        xs, targets = self._pairs(X, Y)
        x_scaler, y_scaler = self._scalers()
        result = dict(
            self._core.evaluate(  # the loss and the outputs from the same weights
                _network_arrays(xs, x_scaler, "X"),
                _network_arrays(targets, y_scaler, "Y"),
                self.many_to_one,
                self.loss,
                _check_int(batch_size, "batch_size"),
                _check_int(seq_len, "seq_len"),
            )
        )
        pairs = zip(result.pop("predictions"), targets, strict=True)
        diff = np.concatenate([(_in_units(p, y_scaler) - np.asarray(y, np.float64)).ravel() for p, y in pairs])
        result["mse"] = float(np.mean(diff**2))
        result["mae"] = float(np.mean(np.abs(diff)))
        return result

    def forecast(self, history, steps: int) -> np.ndarray:
        """Run `history` (T, F) from a zero state, then feed each output back as
        the next input for `steps` steps: (steps, O) in the data's units (float64
        with a target scaler, as `predict`).
        Needs output_size == input_size (a one-step-ahead model)."""
        if self.output_size != self.input_size:
            raise ValueError(
                f"forecast feeds outputs back as inputs, so output_size ({self.output_size}) "
                f"must equal input_size ({self.input_size})"
            )
        (h,), _ = _float_sequences([history], self.input_size, "history")
        steps = _check_int(steps, "steps", minimum=0)
        x_scaler, y_scaler = self._scalers()
        (h,) = _network_arrays([h], x_scaler, "history")
        zeros, ones = np.zeros(self.input_size), np.ones(self.input_size)
        x_off, x_scale = (zeros, ones) if x_scaler is None else (x_scaler.offset, x_scaler.scale)
        y_off, y_scale = (zeros, ones) if y_scaler is None else (y_scaler.offset, y_scaler.scale)
        # scaled output -> data units -> scaled input, one affine map per feature
        feedback_scale = (y_scale / x_scale).astype(np.float32).tolist()
        feedback_shift = ((y_off - x_off) / x_scale).astype(np.float32).tolist()
        out = self._core.forecast(h, steps, feedback_scale, feedback_shift)
        return out if y_scaler is None else _in_units(out, y_scaler)

    # -- persistence --------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write weights, optimizer state, epoch count and scalers atomically."""
        metadata = {
            "format": _CHECKPOINT_FORMAT,
            "seed": self.seed,
            "many_to_one": self.many_to_one,
            "loss": self.loss,
            "x_scaler": None if self.x_scaler is None else self.x_scaler.to_dict(),
            "y_scaler": None if self.y_scaler is None else self.y_scaler.to_dict(),
        }
        self._core.save(os.fspath(path), json.dumps(metadata))

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Load a checkpoint written by `save` (`LSTMRegressor.load` insists on an LSTM)."""
        core, metadata_json = _core.Regressor.load(os.fspath(path))
        metadata = _checkpoint_metadata(path, metadata_json)  # JSON, an object, the seed
        where = f"checkpoint '{os.fspath(path)}'"
        if metadata.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"{where} has no regressor metadata")
        kind = {"lstm": LSTMRegressor, "gru": GRURegressor}[core.config["cell"]]
        if cls is not _SequenceRegressor and cls is not kind:
            raise ValueError(f"{where} holds a {kind.__name__}, not a {cls.__name__}")
        many_to_one = metadata.get("many_to_one", False)
        if not isinstance(many_to_one, bool):
            raise ValueError(f"{where} has damaged metadata: many_to_one {many_to_one!r} is not true or false")
        loss = metadata.get("loss")
        if loss not in LOSSES:
            raise ValueError(f"{where} names an unknown loss {loss!r}")
        x_scaler = _checkpoint_scaler(where, metadata, "x_scaler", core.config["input_size"])
        y_scaler = _checkpoint_scaler(where, metadata, "y_scaler", core.config["output_size"])
        if loss == "bce_with_logits" and y_scaler is not None:
            raise ValueError(f"{where} has damaged metadata: {_BCE_SCALER}")
        model = kind.__new__(kind)
        model._core = core
        model.seed = metadata.get("seed", 0)
        model.many_to_one = many_to_one
        model.loss = loss
        model._keep_scalers(x_scaler, y_scaler)
        return model


def _checkpoint_scaler(where: str, metadata: dict, key: str, features: int):
    """The scaler saved under `key`, checked (kind, finite values, one per feature); ValueError naming the file."""
    try:
        scaler = scaler_from_dict(metadata.get(key))
    except (TypeError, ValueError) as err:  # TypeError: numpy meeting an object where a number belongs
        raise ValueError(f"{where} has a damaged {key}: {err}") from None
    if scaler is not None and scaler.fitted and scaler.scale.size != features:
        raise ValueError(f"{where} has damaged metadata: {key} has {scaler.scale.size} features, the model {features}")
    return scaler


class LSTMRegressor(_SequenceRegressor):
    """Real-valued features -> stacked LSTM -> linear, torch.nn-compatible weights."""

    _cell = "lstm"


class GRURegressor(_SequenceRegressor):
    """Real-valued features -> stacked GRU -> linear, torch.nn-compatible weights."""

    _cell = "gru"
