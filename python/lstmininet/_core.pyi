# Type stub for the compiled module lstmininet._core, written from bindings/*.cpp
# (module.cpp, tensor_bindings.cpp, model_bindings.cpp). Keep it in step with them.

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

__version__: str
# Set by _core.py when it imports the build for this CPU.
ISA_LEVEL: str  # "v2", "v3", "v4" (x86-64-vN), "native" or "generic"
ISA_REASON: str  # why that level: "the best level this CPU runs", "LSTMININET_ISA", ...
ISA_LEVELS_BUILT: list[str]

_FloatArray: TypeAlias = npt.NDArray[np.float32]

# -- module.cpp ---------------------------------------------------------------

def set_num_threads(n: int) -> None:
    """Threads used by the matrix kernels (default: LSTMININET_NUM_THREADS or all cores)."""

def get_num_threads() -> int: ...

class _BuildConfig(TypedDict):
    compiler: str
    simd: str
    simd_floats: int
    isa_level: str
    flags: str
    native: bool
    openmp: int
    gemm_kernel: str
    cpu_brand: str
    cpu_family: int
    cpu_model: int
    cpu_features: list[str]
    threads: int

def build_config() -> _BuildConfig:
    """What the kernels were compiled for, the CPU they run on, and the thread setting (see show_config())."""

def write_file_atomically(path: bytes, data: bytes) -> None:
    """Replace the file at path with data all at once (io/atomic_file.hpp); OSError(errno, reason, path) if not."""

# -- tensor_bindings.cpp ------------------------------------------------------

# What a Tensor operand may be: another Tensor, or anything numpy turns into a
# float32 array of rank 0..2 (a vector becomes one row).
_Operand: TypeAlias = Tensor | npt.ArrayLike

class Tensor:
    """A 2-D float32 value in the autodiff graph (vectors become one row)."""

    def __init__(self, data: npt.ArrayLike, requires_grad: bool = False) -> None: ...
    def numpy(self) -> _FloatArray: ...
    def __array__(self, *args: Any, **kwargs: Any) -> _FloatArray: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def requires_grad(self) -> bool: ...
    @property
    def grad(self) -> _FloatArray | None: ...
    def item(self) -> float: ...
    def backward(self, gradient: npt.ArrayLike | None = None) -> None:
        """Backpropagate from this tensor: a scalar, or any shape given the gradient of the result with respect to
        it (as torch.Tensor.backward(gradient))."""
    def zero_grad(self) -> None: ...
    def detach(self) -> Tensor: ...
    # Python numbers broadcast over the tensor; arrays must match its shape.
    def __add__(self, other: _Operand, /) -> Tensor: ...
    def __radd__(self, other: _Operand, /) -> Tensor: ...
    def __sub__(self, other: _Operand, /) -> Tensor: ...
    def __rsub__(self, other: _Operand, /) -> Tensor: ...
    def __mul__(self, other: _Operand, /) -> Tensor: ...
    def __rmul__(self, other: _Operand, /) -> Tensor: ...
    def __neg__(self) -> Tensor: ...
    def __truediv__(self, scale: float, /) -> Tensor: ...
    def __matmul__(self, other: _Operand, /) -> Tensor: ...
    def __rmatmul__(self, other: _Operand, /) -> Tensor: ...
    @property
    def T(self) -> Tensor: ...
    def sigmoid(self) -> Tensor: ...
    def tanh(self) -> Tensor: ...
    def relu(self) -> Tensor: ...
    def exp(self) -> Tensor: ...
    def log(self) -> Tensor: ...
    def softmax(self) -> Tensor: ...
    def log_softmax(self) -> Tensor: ...
    def sum(self) -> Tensor: ...
    def mean(self) -> Tensor: ...

def mse_loss(prediction: Tensor, target: npt.ArrayLike) -> Tensor: ...
def bce_loss(probability: Tensor, target: npt.ArrayLike) -> Tensor: ...
def bce_with_logits_loss(logits: Tensor, target: npt.ArrayLike) -> Tensor: ...
def cross_entropy_loss(logits: Tensor, targets: Sequence[int]) -> Tensor:
    """Mean cross-entropy over rows; a target of -1 is ignored."""

class no_grad:
    """Context manager: operations inside build no graph."""

    def __init__(self) -> None: ...
    def __enter__(self) -> None: ...
    def __exit__(self, *args: object) -> None: ...

# -- model_bindings.cpp -------------------------------------------------------

class _ModelConfig(TypedDict):
    cell: str  # "lstm" or "gru"
    vocab_size: int
    hidden_size: int
    num_layers: int
    embedding_dim: int | None  # None: one-hot input
    dropout: float

class _EpochRow(TypedDict):
    epoch: int
    train_loss: float
    val_loss: float  # NaN without validation data
    val_accuracy: float
    tokens_per_sec: float
    seconds: float
    lr: float

class _FitResult(TypedDict):
    history: list[_EpochRow]
    interrupted: bool
    keyboard_interrupt: bool
    stopped_early: bool
    best_epoch: int  # the best so far, maybe of an earlier fit on the same validation data; 0: none
    best_val_loss: float  # NaN without validation
    first_loss: float | None
    batches: int  # per epoch
    epoch_position: tuple[int, int] | None  # training stopped inside an epoch: (batches done, steps into the next)
    restarted_epoch: bool  # a stopped epoch could not go on (other data or batching) and ran anew
    restarted_after_batches: int  # the batches it had done
    restored_best: bool  # stopped early and went back to best_epoch's weights

# on_batch(epoch, batch, batches, loss, tokens_per_sec) and on_epoch(row):
# None or a truthy result continues training, a falsy one stops it.
_BatchCallback: TypeAlias = Callable[[int, int, int, float, float], object]
_EpochCallback: TypeAlias = Callable[[_EpochRow], object]

def read_bandwidth(bytes: int, threads: int, seconds: float = 0.2) -> float:
    """GB/s of `threads` threads streaming `bytes` of memory over and over (the roofline of generation)."""

def int8_kernel() -> str:
    """The int8 dot-product kernel generation uses on this CPU: avx512_vnni, avx_vnni, avx2 or portable."""

def bf16_kernel() -> str:
    """The bfloat16 product kernel generation uses on this CPU for one sample: avx512_bf16 or portable."""

def bf16_batch_kernel() -> str:
    """The bfloat16 product kernel for several samples per pass: portable where vdpbf16ps is slow (Intel)."""

def amx_enabled() -> bool:
    """Whether AMX tiles compute every bfloat16 product and int8 products of several samples per pass."""

def amx_unavailable_reason() -> str:
    """Why AMX tiles are not used on this CPU and build; empty where they can be."""

def set_amx_enabled(on: bool) -> None:
    """Turns the AMX tile kernels off, or back on where available (for tests and benchmarks)."""

def sample_seed(seed: int, index: int) -> int:
    """The seed of sample `index` of a batch drawn with `seed`."""

class Model:
    def __init__(
        self,
        cell: str,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        embedding_dim: int,
        dropout: float,
        seed: int,
    ) -> None: ...
    @property
    def config(self) -> _ModelConfig: ...
    @property
    def epochs_done(self) -> int: ...
    @property
    def epoch_position(self) -> tuple[int, int] | None: ...
    @property
    def parameter_names(self) -> list[str]: ...
    def forward(self, tokens: npt.ArrayLike, fused: bool = True) -> _FloatArray:
        """int tokens (B, T) -> float32 logits (B, T, V), from a zero initial state."""
    def loss_and_grads(
        self, inputs: npt.ArrayLike, targets: npt.ArrayLike, fused: bool = True
    ) -> tuple[float, dict[str, _FloatArray]]: ...
    def state_dict(self) -> dict[str, _FloatArray]: ...
    def load_state_dict(self, state: dict[str, Any], /) -> None:
        """Values: anything numpy converts to float32 arrays of the parameter's shape (a real dict)."""
    def fit(
        self,
        train: Sequence[Sequence[int]],
        val: Sequence[Sequence[int]],
        options: dict[str, Any],  # TrainConfig fields by name (epochs, batch_size, seq_len, lr, ...); None = default
        on_batch: _BatchCallback | None = None,
        on_epoch: _EpochCallback | None = None,
    ) -> _FitResult: ...
    def evaluate(self, data: Sequence[Sequence[int]], batch_size: int, seq_len: int) -> dict[str, float]:
        """loss, perplexity, accuracy (floats) and tokens (an int)."""
    def generate(
        self,
        primers: Sequence[Sequence[int]],
        length: int,
        temperature: float,
        top_k: int,
        top_p: float,
        seeds: Sequence[int],
        stop_token: int,
        precision: str,
    ) -> list[list[int]]:
        """One token list per primer, sampled in one batched pass; row i draws from Rng(seeds[i])."""
    def generation_loss(self, sequences: Sequence[Sequence[int]], precision: str) -> tuple[float, int]:
        """(mean next-token loss, predicted tokens) of whole sequences stepped by generation's stepper."""
    def generation_bytes_per_step(self, precision: str) -> int:
        """Weight bytes generation reads per step in that precision."""
    @property
    def stepper_builds(self) -> int:
        """How many times generate() built the stepper weights (they are cached until the weights change)."""
    def save(self, path: str, vocabulary: Sequence[str], metadata: str) -> None: ...
    @staticmethod
    def load(path: str) -> tuple[Model, list[str], str]:
        """(model, vocabulary, metadata JSON) from a checkpoint file."""

class Regressor:
    """The sequence regressor (regressor_bindings.cpp); sequences are lists of float32 (T, F) arrays."""

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        output_size: int,
        dropout: float,
        seed: int,
    ) -> None: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def epochs_done(self) -> int: ...
    @property
    def epoch_position(self) -> tuple[int, int] | None: ...
    @property
    def parameter_names(self) -> list[str]: ...
    def predict(self, inputs: list[npt.ArrayLike], many_to_one: bool, batch_size: int) -> list[_FloatArray]:
        """(T_i, O) per sequence, or (1, O) many-to-one, from a zero state."""
    def loss_and_grads(
        self,
        inputs: list[npt.ArrayLike],
        targets: list[npt.ArrayLike],
        many_to_one: bool,
        loss: str,
        fused: bool = True,
    ) -> tuple[float, dict[str, _FloatArray]]: ...
    def state_dict(self) -> dict[str, _FloatArray]: ...
    def load_state_dict(self, state: dict[str, Any], /) -> None: ...
    def fit(
        self,
        train_x: list[npt.ArrayLike],
        train_y: list[npt.ArrayLike],
        val_x: list[npt.ArrayLike],
        val_y: list[npt.ArrayLike],
        many_to_one: bool,
        loss: str,
        options: dict[str, Any],
        on_batch: _BatchCallback | None = None,
        on_epoch: _EpochCallback | None = None,
    ) -> _FitResult: ...
    def evaluate(
        self,
        inputs: list[npt.ArrayLike],
        targets: list[npt.ArrayLike],
        many_to_one: bool,
        loss: str,
        batch_size: int,
        seq_len: int,
    ) -> dict[str, Any]:
        """loss (a float), targets (an int) and predictions (the outputs, as predict gives them), all from the
        same weights."""
    def forecast(
        self, history: npt.ArrayLike, steps: int, feedback_scale: Sequence[float], feedback_shift: Sequence[float]
    ) -> _FloatArray: ...
    def save(self, path: str, metadata: str) -> None: ...
    @staticmethod
    def load(path: str) -> tuple[Regressor, str]:
        """(regressor, metadata JSON) from a checkpoint file."""
