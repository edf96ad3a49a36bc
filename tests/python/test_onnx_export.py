"""``model.export_onnx()`` and ``lstmininet export``: files that onnxruntime runs as we do.

Each exported file is run by onnxruntime (an independent implementation of
ONNX's LSTM and GRU operators) and compared with lstmininet's ``forward`` on
the same tokens: logits within 1e-5 (max abs), for LSTM and GRU, 1 and 2
layers, embedding and one-hot, and two batch sizes and sequence lengths on
one file (the axes are dynamic). Initial states are checked two ways:
against lstmininet by splitting a sequence (final state of the first part
fed back in), and against torch's nn.LSTM / nn.GRU given the same random
state. Files with fixed axes are run one token at a time.

Needs onnx and onnxruntime (the 'onnx' extra) and torch (the 'torch' extra)
for the state comparison; skipped where they are absent, except in CI (CI
set), where a missing package is an error.
"""

from __future__ import annotations

import importlib
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import lstmininet
from ci_env import in_ci
from lstmininet.cli import main
from lstmininet.onnx_export import CONFIG_KEY, OPSET, TOKENIZER_KEY, build_onnx_model, tokenizer_from_onnx
from lstmininet.tokenizers import MelodyTokenizer

_IN_CI = in_ci()


def _require(name: str, extra: str):
    if _IN_CI:
        return importlib.import_module(name)  # in CI a missing package fails instead of skipping
    return pytest.importorskip(name, reason=f"ONNX export tests need the '{extra}' extra")


onnx = _require("onnx", "onnx")
ort = _require("onnxruntime", "onnx")

LOGITS_ATOL = 1e-5
STATE_ATOL = 1e-5
SHAPES = [(2, 5), (3, 11)]  # (batch, time), both run on the same file
VARIANTS = [(cell, layers, embedding) for cell in ("lstm", "gru") for layers in (1, 2) for embedding in (None, 4)]
HIDDEN = 6


def variant_id(variant) -> str:
    cell, layers, embedding = variant
    return f"{cell}-{layers}layer-{'onehot' if embedding is None else 'embed'}"


def make_model(cell, layers, embedding, vocab=9, seed=21, **kwargs):
    cls = lstmininet.LSTM if cell == "lstm" else lstmininet.GRU
    return cls(vocab, hidden_size=HIDDEN, num_layers=layers, embedding_dim=embedding, seed=seed, **kwargs)


def tokens(vocab, batch, time, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=(batch, time), dtype=np.int64)


def session(path):
    options = ort.SessionOptions()
    # Error level: onnxruntime logs a note on every load that initial_h/initial_c are
    # initializers listed as graph inputs, which is how ONNX spells an optional input.
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, x, **states) -> dict[str, np.ndarray]:
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"tokens": x, **states}), strict=True))


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, onnxruntime session) per variant, exported once with dynamic axes."""
    cache = {}

    def get(variant):
        if variant not in cache:
            model = make_model(*variant)
            path = tmp_path_factory.mktemp("onnx") / f"{variant_id(variant)}.onnx"
            model.export_onnx(path)
            cache[variant] = model, session(path)
        return cache[variant]

    return get


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_onnxruntime_computes_our_logits(exported, variant):
    model, sess = exported(variant)
    cell, layers, _ = variant
    for batch, time in SHAPES:
        x = tokens(model.vocab_size, batch, time, seed=batch)
        out = run(sess, x)
        assert out["logits"].shape == (batch, time, model.vocab_size)
        err = max_abs(out["logits"], model.forward(x))
        assert err <= LOGITS_ATOL, f"{variant_id(variant)} B{batch} T{time}: max abs error {err:.3e}"
        assert out["final_h"].shape == (layers, batch, HIDDEN)
        assert ("final_c" in out) == (cell == "lstm")


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_an_initial_state_continues_the_sequence(exported, variant):
    model, sess = exported(variant)
    whole = tokens(model.vocab_size, 3, 12, seed=4)
    first = run(sess, whole[:, :5])
    states = {"initial_h": first["final_h"]}
    if variant[0] == "lstm":
        states["initial_c"] = first["final_c"]
    rest = run(sess, whole[:, 5:], **states)
    err = max_abs(rest["logits"], model.forward(whole)[:, 5:])
    assert err <= LOGITS_ATOL, f"after an explicit initial state: max abs error {err:.3e}"


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_states_in_and_out_agree_with_torch(exported, variant):
    torch = _require("torch", "torch")
    model, sess = exported(variant)
    cell, layers, _ = variant
    rng = np.random.default_rng(7)
    x = tokens(model.vocab_size, 3, 8, seed=9)
    h0 = rng.normal(size=(layers, 3, HIDDEN)).astype(np.float32)
    c0 = rng.normal(size=(layers, 3, HIDDEN)).astype(np.float32)
    module = model.to_torch().eval()
    with torch.no_grad():
        state = (torch.from_numpy(h0), torch.from_numpy(c0)) if cell == "lstm" else torch.from_numpy(h0)
        logits, final = module(torch.from_numpy(x), state)
    states = {"initial_h": h0, "initial_c": c0} if cell == "lstm" else {"initial_h": h0}
    out = run(sess, x, **states)
    assert max_abs(out["logits"], logits.numpy()) <= LOGITS_ATOL
    final_h = final[0] if cell == "lstm" else final
    assert max_abs(out["final_h"], final_h.numpy()) <= STATE_ATOL
    if cell == "lstm":
        assert max_abs(out["final_c"], final[1].numpy()) <= STATE_ATOL
    # An initial state of batch 1 is broadcast over the batch.
    one = {name: value[:, :1] for name, value in states.items()}
    tiled = {name: np.repeat(value, 3, axis=1) for name, value in one.items()}
    np.testing.assert_array_equal(run(sess, x, **one)["logits"], run(sess, x, **tiled)["logits"])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fixed_axes_run_one_token_at_a_time(tmp_path, cell):
    model = make_model(cell, 2, 3)
    path = tmp_path / "step.onnx"
    model.export_onnx(path, dynamic_batch=False, dynamic_time=False, batch_size=2)  # seq_len defaults to 1
    sess = session(path)
    assert sess.get_inputs()[0].shape == [2, 1]
    x = tokens(model.vocab_size, 2, 10, seed=2)
    states, steps = {}, []
    for t in range(x.shape[1]):
        out = run(sess, x[:, t : t + 1], **states)
        steps.append(out["logits"])
        states = {name.replace("final_", "initial_"): v for name, v in out.items() if name.startswith("final_")}
    err = max_abs(np.concatenate(steps, axis=1), model.forward(x))
    assert err <= LOGITS_ATOL, f"one token at a time: max abs error {err:.3e}"
    with pytest.raises(Exception, match="(?i)invalid dimensions"):
        run(sess, x[:, :3])


def test_the_file_holds_standard_operators_and_the_tokenizer(tmp_path):
    tok = MelodyTokenizer.build([["60", "_", "62", "r", "64"]], add_bos_eos=True)
    model = lstmininet.GRU(len(tok), hidden_size=5, num_layers=2, embedding_dim=None, seed=1, tokenizer=tok)
    path = tmp_path / "gru.onnx"
    model.export_onnx(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    grus = [n for n in proto.graph.node if n.op_type == "GRU"]
    assert len(grus) == 2 and not [n for n in proto.graph.node if n.op_type == "LSTM"]
    for gru in grus:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in gru.attribute}
        assert attributes == {"hidden_size": 5, "linear_before_reset": 1}
    assert [n.op_type for n in proto.graph.node].count("OneHot") == 1
    assert [i.name for i in proto.graph.input] == ["tokens", "initial_h"]
    assert [o.name for o in proto.graph.output] == ["logits", "final_h"]
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props[CONFIG_KEY]) == model.config
    assert json.loads(props[TOKENIZER_KEY]) == tok.to_dict()
    assert tokenizer_from_onnx(path) == tok


def test_without_a_tokenizer_the_metadata_has_none(tmp_path):
    path = tmp_path / "plain.onnx"
    make_model("lstm", 1, 4).export_onnx(path)
    assert tokenizer_from_onnx(path) is None


def test_a_size_for_a_dynamic_axis_is_an_error(tmp_path):
    model = make_model("lstm", 1, None)
    with pytest.raises(ValueError, match="dynamic_batch=False"):
        model.export_onnx(tmp_path / "x.onnx", batch_size=4)
    with pytest.raises(ValueError, match="dynamic_time=False"):
        model.export_onnx(tmp_path / "x.onnx", seq_len=4)
    assert not (tmp_path / "x.onnx").exists()


def test_a_failed_export_keeps_the_old_file(tmp_path):
    # The file was written in place: a write failing part-way (a full disk; here a file-size limit) destroyed it.
    target = tmp_path / "m.onnx"
    make_model("lstm", 1, None).export_onnx(target)
    old = target.read_bytes()
    code = (
        "import resource, signal, sys\nimport lstmininet\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"  # a write past the limit fails with EFBIG instead
        "model = lstmininet.LSTM(200, hidden_size=32, seed=0)\n"  # about 150 kB of weights
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, resource.RLIM_INFINITY))\n"
        "model.export_onnx(sys.argv[1])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True)
    assert target.read_bytes() == old
    assert proc.returncode == 1 and "File too large" in proc.stderr and "m.onnx" in proc.stderr, proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_a_target_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that a write into the FIFO fails the test, not hangs
    try:
        with pytest.raises(OSError, match="not a regular file: '.*pipe.onnx'"):
            make_model("lstm", 1, None).export_onnx(fifo)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_weights_over_the_protobuf_limit_are_refused_before_any_work():
    # protobuf failed with "Failed to serialize proto" after minutes of building. The arrays are
    # broadcast views: the sizes of a 2.2 GB model, without the memory.
    H, V, E = 11700, 16, 8
    shapes = {
        "embedding.weight": (V, E),
        "lstm.weight_ih_l0": (4 * H, E),
        "lstm.weight_hh_l0": (4 * H, H),
        "lstm.bias_ih_l0": (4 * H,),
        "lstm.bias_hh_l0": (4 * H,),
        "fc.weight": (V, H),
        "fc.bias": (V,),
    }
    state = {name: np.broadcast_to(np.float32(0), shape) for name, shape in shapes.items()}
    config = dict(cell="lstm", vocab_size=V, hidden_size=H, num_layers=1, embedding_dim=E, dropout=0.0)
    with pytest.raises(ValueError, match=r"548,215,344 parameters, 2\.04 GiB .* less than 2 GiB"):
        build_onnx_model(config, state)


def test_cli_export(tmp_path, capsys):
    tok = MelodyTokenizer.build([["60", "_", "62", "r", "64", "65"]], add_bos_eos=True)
    model = lstmininet.LSTM(len(tok), hidden_size=8, num_layers=2, embedding_dim=3, seed=2, tokenizer=tok)
    model.save(tmp_path / "m.lmn")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "m.lmn"), "--onnx", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    x = tokens(len(tok), 2, 7)
    assert max_abs(run(session(out), x)["logits"], model.forward(x)) <= LOGITS_ATOL
    assert tokenizer_from_onnx(out) == tok

    fixed = tmp_path / "step.onnx"
    assert main(["export", str(tmp_path / "m.lmn"), "--onnx", str(fixed), "--batch-size", "1", "--seq-len", "1"]) == 0
    assert session(fixed).get_inputs()[0].shape == [1, 1]

    assert main(["export", str(tmp_path / "absent.lmn"), "--onnx", str(tmp_path / "a.onnx")]) == 2
    assert "absent.lmn" in capsys.readouterr().err
