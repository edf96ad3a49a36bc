"""LSTMiniNet: small recurrent networks with a from-scratch C++20 core."""

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
from .model import GRU, LSTM, History, load

__version__ = "0.1.0"

__all__ = [
    "GRU", "LSTM", "History", "Tensor", "load", "no_grad", "set_num_threads", "get_num_threads",
    "mse_loss", "bce_loss", "bce_with_logits_loss", "cross_entropy_loss",
]
