"""Per-feature scalers kept with a regressor (and saved in its checkpoint).

Both are affine maps ``scaled = (value - offset) / scale`` fitted on the rows
of all training sequences, so a model trains on well-conditioned numbers
and answers in the data's units. ``StandardScaler``: zero mean, unit
variance. ``MinMaxScaler``: each feature to [0, 1]. A constant feature gets
scale 1 (it would otherwise divide by zero).
"""

from __future__ import annotations

import numpy as np


class _AffineScaler:
    kind = ""

    def __init__(self, offset=None, scale=None):
        if (offset is None) != (scale is None):
            raise ValueError("give both offset and scale, or neither")
        self.offset = self.scale = None
        if scale is not None:
            self._set(np.asarray(offset, dtype=np.float64).reshape(-1), np.asarray(scale, dtype=np.float64).reshape(-1))

    def _set(self, offset: np.ndarray, scale: np.ndarray) -> None:
        """Checks, then assigns both (never one without the other)."""
        if offset.shape != scale.shape:
            raise ValueError(f"offset has {offset.size} features but scale has {scale.size}")
        if not (np.all(np.isfinite(offset)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise ValueError("scaler offset must be finite and scale finite and positive")
        self.offset, self.scale = offset, scale

    @property
    def fitted(self) -> bool:
        return self.scale is not None

    def fit(self, sequences) -> _AffineScaler:
        """Fit on a list of (T, F) arrays (or one array whose last axis is F)."""
        rows = _rows(sequences)
        if rows.shape[0] == 0:
            raise ValueError("cannot fit a scaler on no data")
        if not np.all(np.isfinite(rows)):
            raise ValueError(f"cannot fit {type(self).__name__} on data that contains NaN or infinity")
        with np.errstate(over="ignore", invalid="ignore"):
            offset, scale = self._fit(rows)
        if not np.all(np.isfinite(scale)):  # values near 1e308 apart
            raise ValueError(f"cannot fit {type(self).__name__}: the spread of the data overflows float64")
        self._set(offset, np.where(scale > 0, scale, 1.0))
        return self

    def _require(self, values: np.ndarray) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet")
        if values.shape[-1] != self.scale.size:
            raise ValueError(f"scaler was fitted on {self.scale.size} features, got {values.shape[-1]}")

    def transform(self, values) -> np.ndarray:
        """Scaled values as float32 (the networks' dtype), computed in float64."""
        return self._scaled(values).astype(np.float32)

    def inverse_transform(self, values) -> np.ndarray:
        """Values in the data's units as float32, computed in float64."""
        return self._unscaled(values).astype(np.float32)

    def _scaled(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        self._require(values)
        return (values - self.offset) / self.scale

    def _unscaled(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        self._require(values)
        return values * self.scale + self.offset

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "offset": None if self.offset is None else self.offset.tolist(),
            "scale": None if self.scale is None else self.scale.tolist(),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({'fitted on ' + str(self.scale.size) + ' features' if self.fitted else 'unfitted'})"
        )


class StandardScaler(_AffineScaler):
    """(value - mean) / standard deviation, per feature."""

    kind = "standard"

    @staticmethod
    def _fit(rows):
        return rows.mean(axis=0), rows.std(axis=0)


class MinMaxScaler(_AffineScaler):
    """(value - min) / (max - min), per feature: the training data lands in [0, 1]."""

    kind = "minmax"

    @staticmethod
    def _fit(rows):
        low = rows.min(axis=0)
        return low, rows.max(axis=0) - low


SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler}


def make_scaler(spec) -> _AffineScaler | None:
    """None, "standard", "minmax", or a scaler object (used as it is)."""
    if spec is None or isinstance(spec, _AffineScaler):
        return spec
    if isinstance(spec, str) and spec in SCALERS:
        return SCALERS[spec]()
    raise ValueError(f"scaler must be None, 'standard', 'minmax' or a scaler object, got {spec!r}")


def scaler_from_dict(data: dict | None) -> _AffineScaler | None:
    """The scaler `to_dict` described (None stays None)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"expected an object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in SCALERS:
        raise ValueError(f"unknown scaler kind {kind!r}")
    return SCALERS[kind](data.get("offset"), data.get("scale"))


def _rows(sequences) -> np.ndarray:
    if isinstance(sequences, np.ndarray):
        return np.asarray(sequences, dtype=np.float64).reshape(-1, sequences.shape[-1])
    return np.concatenate([np.asarray(s, dtype=np.float64) for s in sequences], axis=0)
