"""PyTorch hand-off: the same network as a ``torch.nn.Module``, and back.

The module built here, ``TorchRecurrentLM``, is the PyTorch twin of
``lstmininet.LSTM`` / ``lstmininet.GRU``::

    tokens (B, T) int64
    -> embedding = nn.Embedding(V, E)              (or one-hot vectors when E is None)
    -> lstm = nn.LSTM(in, H, L, batch_first=True)   (or gru = nn.GRU(...))
    -> dropout after the last layer (nn.LSTM/nn.GRU drop between layers)
    -> fc = nn.Linear(H, V)                        logits (B, T, V)

Its ``state_dict()`` has exactly the names and layouts of ours, so weights
move both ways without renaming. ``forward(tokens, state=None)`` returns
``(logits, state)``, where ``state`` is torch's ``(h, c)`` for an LSTM and
``h`` for a GRU, each (L, B, H).

torch is imported inside the functions here, never at import time, so it
stays optional. ``lstmininet.model`` builds on these helpers for
``model.to_torch()`` and ``lstmininet.from_torch()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

# TorchRecurrentLM is there too, made on first access (see __getattr__); a star import must not load torch.
__all__ = ["build_torch_module", "config_from_state_dict", "float32_arrays", "numpy_state_dict", "unwrap_module"]

_CELL_GATES = {"lstm": 4, "gru": 3}
# Where wrappers keep the module they wrap: DistributedDataParallel and DataParallel
# (.module), torch.compile (._orig_mod). Each puts its name before every parameter name.
_WRAPPER_ATTRIBUTES = ("module", "_orig_mod")
_WRAPPER_PREFIXES = tuple(attribute + "." for attribute in _WRAPPER_ATTRIBUTES)


def _import_torch():
    try:
        import torch
    except ImportError as err:
        raise ImportError(
            "this needs PyTorch, which lstmininet does not install by default: pip install torch "
            "(the project tests with torch==2.13.0, the 'torch' extra)"
        ) from err
    return torch


_module_class = None


def _torch_module_class():
    """Define the nn.Module subclass on first use (torch is imported only then)."""
    global _module_class
    if _module_class is not None:
        return _module_class
    torch = _import_torch()
    nn = torch.nn

    class TorchRecurrentLM(nn.Module):
        """Embedding (or one-hot) -> nn.LSTM / nn.GRU (batch_first) -> nn.Linear, with lstmininet's names."""

        def __init__(
            self,
            cell: str,
            vocab_size: int,
            hidden_size: int,
            num_layers: int = 1,
            embedding_dim: int | None = None,
            dropout: float = 0.0,
        ):
            super().__init__()
            if cell not in _CELL_GATES:
                raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
            self.cell = cell
            self.vocab_size = vocab_size
            self.embedding_dim = embedding_dim
            if embedding_dim is not None:
                self.embedding = nn.Embedding(vocab_size, embedding_dim)
            rnn_class = nn.LSTM if cell == "lstm" else nn.GRU
            # lstmininet drops out after every recurrent layer; torch's RNN only between
            # layers, so the last layer's dropout is a module of its own.
            between = dropout if num_layers > 1 else 0.0
            rnn = rnn_class(embedding_dim or vocab_size, hidden_size, num_layers, batch_first=True, dropout=between)
            setattr(self, cell, rnn)  # registered as "lstm" or "gru": the state dict names
            self.dropout = nn.Dropout(dropout)
            self.fc = nn.Linear(hidden_size, vocab_size)

        @property
        def rnn(self):
            return getattr(self, self.cell)

        def forward(self, tokens, state=None):
            """int tokens (B, T) -> (logits (B, T, V), final state); ``state`` as torch's RNN takes it."""
            if self.embedding_dim is not None:
                x = self.embedding(tokens)
            else:
                x = nn.functional.one_hot(tokens.long(), self.vocab_size).to(self.fc.weight.dtype)
            out, state = self.rnn(x, state)
            return self.fc(self.dropout(out)), state

    # Importable (and so picklable) as lstmininet.interop.TorchRecurrentLM, see __getattr__.
    TorchRecurrentLM.__module__ = __name__
    TorchRecurrentLM.__qualname__ = "TorchRecurrentLM"
    _module_class = TorchRecurrentLM
    return _module_class


def __getattr__(name: str):
    # The class exists only once torch is imported; asking for it imports torch.
    if name == "TorchRecurrentLM":
        return _torch_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_torch_module(config: Mapping, state_dict: Mapping[str, np.ndarray]):
    """A ``TorchRecurrentLM`` for ``config`` (as ``model.config`` gives it) holding ``state_dict``'s weights."""
    torch = _import_torch()
    module = _torch_module_class()(
        config["cell"],
        int(config["vocab_size"]),
        int(config["hidden_size"]),
        int(config["num_layers"]),
        None if config["embedding_dim"] is None else int(config["embedding_dim"]),
        float(config.get("dropout", 0.0)),
    )
    # Copies, so the module never shares memory with arrays the caller still holds.
    tensors = {name: torch.from_numpy(np.array(value, dtype=np.float32)) for name, value in state_dict.items()}
    module.load_state_dict(tensors, strict=True)
    return module


def unwrap_module(module):
    """The module inside DataParallel / DistributedDataParallel / torch.compile wrappers, nested in any order.

    A wrapper is a module whose only child is ``module`` or ``_orig_mod``;
    anything else (a state dict, our own module) comes back as it is.
    """
    while hasattr(module, "named_children"):
        children = dict(module.named_children())
        if len(children) != 1 or next(iter(children)) not in _WRAPPER_ATTRIBUTES:
            break
        module = next(iter(children.values()))
    return module


def float32_arrays(state: Mapping) -> dict[str, np.ndarray]:
    """A float32 numpy copy of every tensor or array in ``state``, by name.

    Torch tensors may be on any device and of any real dtype (bfloat16 has no
    numpy twin, so they are converted by torch). Raises ValueError naming the
    tensor for complex values, whose imaginary part would be lost, and for
    anything that is not numbers (strings, a quantized module's packed
    weights, tensors on the meta device).
    """
    arrays = {}
    for name, value in state.items():
        try:
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu()
                value = value.numpy() if value.is_complex() else value.float().numpy()
            array = np.asarray(value)
            if array.dtype.kind not in "fiubc":  # numpy would parse strings such as "1.5" as numbers
                raise TypeError(f"dtype {array.dtype}")
            if not np.iscomplexobj(array):
                array = np.array(value, dtype=np.float32)  # a copy: the caller keeps its tensors
        except (TypeError, ValueError, RuntimeError) as error:  # RuntimeError: torch's, e.g. for a meta tensor
            raise ValueError(f"tensor {name!r} is not numbers: {error}") from None
        if np.iscomplexobj(array):  # numpy and torch would drop the imaginary part with only a warning
            raise ValueError(f"tensor {name!r} is complex ({array.dtype}): the weights are real numbers")
        arrays[str(name)] = array
    return arrays


def numpy_state_dict(module_or_state_dict) -> dict[str, np.ndarray]:
    """float32 numpy arrays by parameter name from an nn.Module or a state dict of tensors or arrays.

    Wrapper prefixes (``module.`` from DistributedDataParallel and
    DataParallel, ``_orig_mod.`` from torch.compile) are removed, nested in
    any order.
    """
    if hasattr(module_or_state_dict, "state_dict") and callable(module_or_state_dict.state_dict):
        state = module_or_state_dict.state_dict()
    elif isinstance(module_or_state_dict, Mapping):
        state = module_or_state_dict
    else:
        raise TypeError(
            f"expected a torch.nn.Module or a state dict (a mapping), got {type(module_or_state_dict).__name__}"
        )
    arrays = float32_arrays(state)
    # Wrappers nest in any order: torch.compile(DistributedDataParallel(m)) names "_orig_mod.module.*".
    while arrays and (prefix := next((p for p in _WRAPPER_PREFIXES if all(n.startswith(p) for n in arrays)), None)):
        arrays = {name[len(prefix) :]: value for name, value in arrays.items()}
    return arrays


def config_from_state_dict(state: Mapping[str, np.ndarray]) -> dict:
    """Cell, vocabulary, hidden size, layers and embedding size read off the parameter shapes.

    Raises ValueError naming what does not fit lstmininet's model (for
    example a bidirectional or projected LSTM, or a missing bias).
    """
    cells = sorted({name.split(".", 1)[0] for name in state} & set(_CELL_GATES))
    if len(cells) != 1:
        found = ", ".join(sorted(state)) or "nothing"
        raise ValueError(f"expected the parameters of one 'lstm' or one 'gru' module, found: {found}")
    cell = cells[0]
    gates = _CELL_GATES[cell]
    layer_names = re.compile(rf"{cell}\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)")
    layers = {int(m.group(2)) for name in state if (m := layer_names.fullmatch(name))}
    num_layers = len(layers)
    if num_layers == 0 or layers != set(range(num_layers)):
        raise ValueError(f"{cell} layers must be numbered 0..L-1, found {sorted(layers)}")
    expected = {"fc.weight", "fc.bias"}
    for k in range(num_layers):
        expected |= {f"{cell}.{kind}_l{k}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if "embedding.weight" in state:
        expected.add("embedding.weight")
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"not an lstmininet {cell.upper()} state dict: missing {missing or 'nothing'}, "
            f"unexpected {unexpected or 'nothing'} (bidirectional, projected or bias-free RNNs are not supported)"
        )
    for name in (f"{cell}.weight_hh_l0", "fc.weight", "embedding.weight"):  # the sizes are read off these
        if name in state and np.ndim(state[name]) != 2:
            raise ValueError(f"{name} has shape {tuple(np.shape(state[name]))}, expected 2 dimensions")
    hidden_size = int(np.shape(state[f"{cell}.weight_hh_l0"])[1])
    vocab_size = int(np.shape(state["fc.weight"])[0])
    embedding_dim = int(np.shape(state["embedding.weight"])[1]) if "embedding.weight" in state else None
    config = dict(
        cell=cell, vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers, embedding_dim=embedding_dim
    )
    # Every shape, so a mismatch is reported here by name rather than deep inside the core.
    shapes = {"fc.weight": (vocab_size, hidden_size), "fc.bias": (vocab_size,)}
    if embedding_dim is not None:
        shapes["embedding.weight"] = (vocab_size, embedding_dim)
    for k in range(num_layers):
        width = (embedding_dim or vocab_size) if k == 0 else hidden_size
        shapes[f"{cell}.weight_ih_l{k}"] = (gates * hidden_size, width)
        shapes[f"{cell}.weight_hh_l{k}"] = (gates * hidden_size, hidden_size)
        shapes[f"{cell}.bias_ih_l{k}"] = (gates * hidden_size,)
        shapes[f"{cell}.bias_hh_l{k}"] = (gates * hidden_size,)
    for name, shape in shapes.items():
        if tuple(np.shape(state[name])) != shape:
            raise ValueError(f"{name} has shape {tuple(np.shape(state[name]))}, expected {shape} for {config}")
    return config
