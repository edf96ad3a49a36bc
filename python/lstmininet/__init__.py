"""LSTMiniNet: small recurrent networks with a from-scratch C++20 core.

The package's modules, each importing only from modules listed above it
(tests/python/test_import_graph.py checks that the graph has no cycle):

===============  =========================================================  ==========================
module           holds                                                      imports from the package
===============  =========================================================  ==========================
_core            the compiled C++ core (numerics), see ``_core.pyi``        --
tune_header      meter and key tokens (``M:6/8 K:Dmaj``) opening a tune     --
melody           grid grammar: ``r``/``_`` tokens, validation,              tune_header
                 grid changes, transposition
duration_tokens  pitch + duration tokens (``62 d3``) <-> grid melodies      melody, input_limits
melody_file      Melody.txt read/write, its grid line                       melody, duration_tokens,
                                                                            input_limits
splits           the one train/validation/test split                        --
tokenizers       token <-> id vocabularies (melody: grid or duration        melody, duration_tokens
                 encoding; char)
conditioning     the header primer for ``generate(..., meter=, key=)``      tokenizers, tune_header
score_header     a score's meter and key <-> header tokens                  tune_header
scores           music21 scores <-> grid tokens, loading score files        melody, score_header
midi             MIDI / MusicXML files                                      melody, scores
corpus_cache     on-disk cache of converted score corpora                   scores
datasets         ``load_melodies``: Melody.txt, scores, corpora             melody, melody_file, scores,
                                                                            corpus_cache, splits
interop          PyTorch twin of the model (``TorchRecurrentLM``), state    --
                 dicts from torch modules, config from weight shapes
onnx_export      the model as an ONNX graph of standard operators;          tokenizers
                 the tokenizer back from a file's metadata
model            ``LSTM``, ``GRU``; ``to_torch``, ``export_onnx``,          _core, conditioning, interop,
                 ``from_torch``                                             onnx_export, splits, tokenizers
scaling          standard / min-max scalers kept with a regressor          --
regression       ``LSTMRegressor``, ``GRURegressor`` (real-valued           _core, interop, model,
                 sequences)                                                 scaling, splits
config           ``show_config()``: build and CPU facts                     _core
plots            loss curves, piano rolls (matplotlib)                      melody
cli              the ``lstmininet`` command                                 all of the above
===============  =========================================================  ==========================

``music21_loading`` is the former name of ``scores`` (re-exports only).
music21, matplotlib, tqdm, torch and onnx are imported inside the
functions that use them, so ``import lstmininet`` stays fast and torch and
onnx stay optional.
"""

from ._core import (
    Tensor,
    bce_loss,
    bce_with_logits_loss,
    cross_entropy_loss,
    get_num_threads,
    mse_loss,
    no_grad,
    set_num_threads,
)
from .config import show_config
from .model import GRU, LSTM, History, from_torch, load, sample_seed
from .regression import GRURegressor, LSTMRegressor
from .scaling import MinMaxScaler, StandardScaler

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "History",
    "LSTMRegressor",
    "GRURegressor",
    "StandardScaler",
    "MinMaxScaler",
    "Tensor",
    "load",
    "from_torch",
    "no_grad",
    "sample_seed",
    "set_num_threads",
    "get_num_threads",
    "mse_loss",
    "bce_loss",
    "bce_with_logits_loss",
    "cross_entropy_loss",
    "show_config",
]
