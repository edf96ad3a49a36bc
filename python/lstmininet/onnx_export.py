"""ONNX export: the model as standard ONNX operators, for any ONNX runtime.

The graph (built with ``onnx.helper``; opset 17)::

    tokens (B, T) int64
    -> Transpose -> (T, B)
    -> Gather(embedding.weight)   (T, B, E)      or OneHot(depth V) (T, B, V) without an embedding
    -> LSTM / GRU, one ONNX op per layer, each followed by Squeeze of its direction axis
    -> Transpose -> (B, T, H) -> MatMul(fc.weight^T) -> Add(fc.bias)
    -> logits (B, T, V) float32

ONNX orders the gates differently from torch (and so from lstmininet): LSTM
weights are stored as i, o, f, c (ours: i, f, g, o) and GRU weights as
z, r, h (ours: r, z, n), with ``linear_before_reset=1``, which is torch's
GRU (the reset gate multiplies ``W_hn h + b_hn``). Both biases of a layer go
into the op's ``B`` input, input bias first.

Inputs besides ``tokens``: ``initial_h`` (and ``initial_c`` for an LSTM),
(L, 1 or B, H), default zeros; an initial state of batch 1 is broadcast to
the batch. Outputs besides ``logits``: ``final_h`` (and ``final_c``),
(L, B, H). Feeding ``final_*`` back as ``initial_*`` continues a sequence,
one step or many at a time.

Token ids are not checked: the caller must pass ids in [0, V). As ONNX
defines OneHot and Gather, a one-hot graph reads an id >= V as an all-zero
input (Gather, with an embedding, leaves it to the runtime), and a negative
id counts back from V in both kinds (-1 is V-1).
ONNX has no assertion operator to refuse them with.

``metadata_props`` carry ``lstmininet.config`` (JSON) and, when the model
has one, ``lstmininet.tokenizer`` (the tokenizer's ``to_dict()`` as JSON;
``tokenizer_from_onnx`` reads it back).

onnx is imported inside the functions here, so it stays optional.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np

from .atomic_file import write_bytes_atomically
from .tokenizers import tokenizer_from_dict

__all__ = ["OPSET", "build_onnx_model", "save_onnx", "tokenizer_from_onnx"]

OPSET = 17  # LSTM-14, GRU-14, Shape-15 (start/end): read by any runtime from 2022 on
TOKENIZER_KEY = "lstmininet.tokenizer"
CONFIG_KEY = "lstmininet.config"

# An ONNX file is one protobuf message, and protobuf refuses to write one of 2 GiB or more.
# The weights take nearly all of it; the rest (graph, names, metadata) is kilobytes.
_PROTOBUF_LIMIT = 2**31
_GRAPH_HEADROOM = 2**20

# For each ONNX gate block, the torch gate block it comes from.
_LSTM_TO_ONNX = (0, 3, 1, 2)  # torch i, f, g, o -> ONNX i, o, f, c
_GRU_TO_ONNX = (1, 0, 2)  # torch r, z, n -> ONNX z, r, h


def _import_onnx():
    try:
        import onnx
    except ImportError as err:
        raise ImportError(
            "ONNX export needs the onnx package: pip install onnx (the project tests with the 'onnx' extra)"
        ) from err
    return onnx


def _gate_blocks(array: np.ndarray, order: tuple[int, ...], hidden_size: int) -> np.ndarray:
    """Rows of ``array`` regrouped gate by gate: block j of the result is block order[j] of the input."""
    return np.concatenate([array[g * hidden_size : (g + 1) * hidden_size] for g in order], axis=0)


def _check_size(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_fits_protobuf(state_dict: Mapping[str, np.ndarray]) -> None:
    """Refuse weights too big for one ONNX file before building anything (protobuf fails only at the end)."""
    count = sum(int(np.size(value)) for value in state_dict.values())
    if 4 * count + _GRAPH_HEADROOM >= _PROTOBUF_LIMIT:
        raise ValueError(
            f"the model has {count:,} parameters, {4 * count / 2**30:.2f} GiB of float32 weights: too big for ONNX, "
            "whose files are protobuf messages of less than 2 GiB"
        )


def build_onnx_model(
    config: Mapping,
    state_dict: Mapping[str, np.ndarray],
    tokenizer_dict: Mapping | None = None,
    *,
    dynamic_batch: bool = True,
    dynamic_time: bool = True,
    batch_size: int | None = None,
    seq_len: int | None = None,
):
    """An ``onnx.ModelProto`` for a model of ``config`` (``model.config``) with ``state_dict``'s weights.

    With ``dynamic_batch`` / ``dynamic_time`` the batch / time axis of
    ``tokens`` is symbolic (``batch`` / ``time``); otherwise it is fixed to
    ``batch_size`` / ``seq_len`` (default 1; giving a size for a dynamic axis
    is an error).
    """
    onnx = _import_onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    _check_fits_protobuf(state_dict)
    batch_size, seq_len = _check_size(batch_size, "batch_size"), _check_size(seq_len, "seq_len")
    if dynamic_batch and batch_size is not None:
        raise ValueError("batch_size fixes the batch axis: pass dynamic_batch=False with it")
    if dynamic_time and seq_len is not None:
        raise ValueError("seq_len fixes the time axis: pass dynamic_time=False with it")
    batch_dim = "batch" if dynamic_batch else (batch_size or 1)
    time_dim = "time" if dynamic_time else (seq_len or 1)

    cell = config["cell"]
    if cell not in ("lstm", "gru"):
        raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
    V, H, L = int(config["vocab_size"]), int(config["hidden_size"]), int(config["num_layers"])
    E = config["embedding_dim"]
    order = _LSTM_TO_ONNX if cell == "lstm" else _GRU_TO_ONNX
    states = ("h", "c") if cell == "lstm" else ("h",)

    def weight(name: str) -> np.ndarray:
        return np.asarray(state_dict[name], dtype=np.float32)

    initializers, nodes = [], []

    def constant(name: str, array) -> str:
        initializers.append(onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=f"{op}_{output}", **attributes))
        return output

    # Token ids, time-major as ONNX's recurrent ops want them: (T, B).
    tokens_tb = node("Transpose", ["tokens"], "tokens_time_major", perm=[1, 0])
    if E is None:
        depth = constant("one_hot_depth", np.array([V], dtype=np.int64))
        values = constant("one_hot_values", np.array([0.0, 1.0], dtype=np.float32))
        x = node("OneHot", [tokens_tb, depth, values], "one_hot", axis=-1)  # (T, B, V)
    else:
        table = constant("embedding.weight", weight("embedding.weight"))
        x = node("Gather", [table, tokens_tb], "embedded", axis=0)  # (T, B, E)

    # Initial states (L, 1 or B, H), broadcast to (L, B, H).
    batch = node("Shape", ["tokens"], "batch_size", start=0, end=1)
    layers_1 = constant("num_layers_1d", np.array([L], dtype=np.int64))
    hidden_1 = constant("hidden_size_1d", np.array([H], dtype=np.int64))
    state_shape = node("Concat", [layers_1, batch, hidden_1], "state_shape", axis=0)
    initial = {}
    for s in states:
        constant(f"initial_{s}", np.zeros((L, 1, H), dtype=np.float32))  # the default, overridable input
        initial[s] = node("Expand", [f"initial_{s}", state_shape], f"initial_{s}_batch")

    axis_0 = constant("axis_0", np.array([0], dtype=np.int64))
    squeeze_axes = constant("direction_axis", np.array([1], dtype=np.int64))
    finals = {s: [] for s in states}
    for k in range(L):
        w = constant(f"{cell}.W_l{k}", _gate_blocks(weight(f"{cell}.weight_ih_l{k}"), order, H)[None])
        r = constant(f"{cell}.R_l{k}", _gate_blocks(weight(f"{cell}.weight_hh_l{k}"), order, H)[None])
        b_ih = _gate_blocks(weight(f"{cell}.bias_ih_l{k}"), order, H)
        b_hh = _gate_blocks(weight(f"{cell}.bias_hh_l{k}"), order, H)
        b = constant(f"{cell}.B_l{k}", np.concatenate([b_ih, b_hh])[None])
        start = constant(f"layer_{k}_start", np.array([k], dtype=np.int64))
        end = constant(f"layer_{k}_end", np.array([k + 1], dtype=np.int64))
        # This layer's initial states, (1, B, H): ONNX's (directions, batch, hidden).
        layer_states = [node("Slice", [initial[s], start, end, axis_0], f"initial_{s}_l{k}") for s in states]
        # inputs: X, W, R, B, sequence_lens (omitted), initial_h[, initial_c]
        op_inputs = [x, w, r, b, "", *layer_states]
        outputs = [f"{cell}_y_l{k}", *(f"final_{s}_l{k}" for s in states)]
        attributes = dict(hidden_size=H)
        if cell == "gru":
            attributes["linear_before_reset"] = 1  # torch's GRU
        nodes.append(helper.make_node(cell.upper(), op_inputs, outputs, name=f"{cell.upper()}_l{k}", **attributes))
        for s in states:
            finals[s].append(f"final_{s}_l{k}")
        x = node("Squeeze", [outputs[0], squeeze_axes], f"{cell}_out_l{k}")  # (T, 1, B, H) -> (T, B, H)

    for s in states:
        node("Concat", finals[s], f"final_{s}", axis=0)  # (L, B, H)
    batch_major = node("Transpose", [x], "rnn_out", perm=[1, 0, 2])  # (B, T, H)
    fc_weight_t = constant("fc.weight_t", np.ascontiguousarray(weight("fc.weight").T))
    fc_bias = constant("fc.bias", weight("fc.bias"))
    projected = node("MatMul", [batch_major, fc_weight_t], "fc_matmul")
    node("Add", [projected, fc_bias], "logits")

    graph_inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, [batch_dim, time_dim])]
    graph_inputs += [
        helper.make_tensor_value_info(f"initial_{s}", TensorProto.FLOAT, [L, "state_batch", H]) for s in states
    ]
    graph_outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch_dim, time_dim, V])]
    graph_outputs += [helper.make_tensor_value_info(f"final_{s}", TensorProto.FLOAT, [L, batch_dim, H]) for s in states]
    graph = helper.make_graph(
        nodes, f"lstmininet_{cell}", graph_inputs, graph_outputs, initializer=initializers, doc_string=__doc__
    )
    opset = helper.make_opsetid("", OPSET)
    model = helper.make_model(
        graph,
        opset_imports=[opset],
        producer_name="lstmininet",
        ir_version=helper.find_min_ir_version_for([opset]),
    )
    metadata = {CONFIG_KEY: json.dumps(dict(config), sort_keys=True)}
    if tokenizer_dict is not None:
        metadata[TOKENIZER_KEY] = json.dumps(tokenizer_dict)
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)  # structure and shape inference
    return model


def save_onnx(model_proto, path: str | os.PathLike) -> None:
    """Write an ``onnx.ModelProto`` to ``path``, replacing it atomically as checkpoints are.

    A failed write leaves the old file whole; a target that is not a regular
    file (a FIFO, a device) is refused with an OSError.
    """
    write_bytes_atomically(path, model_proto.SerializeToString())


def tokenizer_from_onnx(path_or_model):
    """The tokenizer stored in an exported file's metadata, or None if it has none."""
    onnx = _import_onnx()
    model = path_or_model
    if isinstance(path_or_model, (str, os.PathLike)):
        model = onnx.load_model(os.fspath(path_or_model), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    if TOKENIZER_KEY not in props:
        return None
    return tokenizer_from_dict(json.loads(props[TOKENIZER_KEY]))
