"""LSTMiniNet: small recurrent networks with a from-scratch C++20 core."""

__version__ = "0.1.0"
