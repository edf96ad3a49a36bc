"""The checkpoint format's fields, read independently of the C++ loader.

Tests and the fuzzer use it to find a field (the hidden size, a tensor's
values, the optimizer flag, ...) and to change it with the checksum fixed
up, so the damage reaches the loader's validation instead of stopping at the
checksum. The layout is the one documented in cpp/io/checkpoint.hpp (versions 1 and 2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"LMNCKPT1"


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def with_checksum(body_and_old_checksum: bytes) -> bytes:
    """The bytes with their last eight (the checksum) recomputed."""
    body = body_and_old_checksum[:-8]
    return body + struct.pack("<Q", fnv1a(body))


@dataclass
class Field:
    name: str
    offset: int
    fmt: str  # struct format of one value, or "bytes" for raw data
    size: int


class _Cursor:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.fields: list[Field] = []

    def take(self, name: str, fmt: str):
        size = struct.calcsize(fmt)
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.fields.append(Field(name, self.pos, fmt, size))
        self.pos += size
        return value

    def raw(self, name: str, size: int) -> bytes:
        self.fields.append(Field(name, self.pos, "bytes", size))
        value = self.data[self.pos : self.pos + size]
        self.pos += size
        return value

    def string(self, name: str) -> bytes:
        n = self.take(name + ".length", "<I")
        return self.raw(name, n)

    def matrix(self, name: str) -> None:
        rows = self.take(name + ".rows", "<i")
        cols = self.take(name + ".cols", "<i")
        self.raw(name + ".values", 4 * rows * cols)


def fields(data: bytes) -> dict[str, Field]:
    """Every field of a valid checkpoint by name (tensor fields as 'tensor:NAME.rows', ...)."""
    c = _Cursor(data)
    c.raw("magic", 8)
    version = c.take("version", "<I")
    c.take("cell", "<I")
    shape = {name: c.take(name, "<i") for name in ("vocab_size", "hidden_size", "num_layers", "embedding_dim")}
    num_layers = shape["num_layers"]
    c.take("dropout", "<f")
    vocab = c.take("vocabulary.count", "<I")
    for i in range(vocab):
        c.string(f"vocabulary:{i}")
    c.string("metadata")
    tensors = c.take("tensors.count", "<I")
    tensor_names = []
    for _ in range(tensors):
        name = c.string("tensor.name").decode()
        tensor_names.append(name)
        c.fields[-1].name = f"tensor:{name}.name"
        c.fields[-2].name = f"tensor:{name}.name.length"
        c.matrix(f"tensor:{name}")
    c.take("epochs_done", "<i")
    c.take("seed", "<Q")
    if c.take("optimizer.flag", "<B"):
        c.take("optimizer.kind", "<I")
        for name in ("lr", "momentum", "weight_decay", "beta1", "beta2", "eps", "reserved"):
            c.take(f"optimizer.{name}", "<f")
        c.take("optimizer.steps", "<q")
        for i in range(c.take("optimizer.buffers.count", "<I")):
            c.matrix(f"optimizer.buffer{i}")
    if version >= 2 and c.take("position.flag", "<B"):
        c.take("position.layout", "<Q")
        c.take("position.batch", "<i")
        c.take("position.step", "<i")
        for i in range(4):
            c.take(f"position.dropout_rng{i}", "<Q")
        c.take("position.loss_sum", "<d")
        c.take("position.tokens", "<q")
        c.take("position.seconds", "<d")
        if c.take("position.rows", "<i"):
            for layer in range(num_layers):
                c.matrix(f"position.h{layer}")
                c.matrix(f"position.c{layer}")
    if version >= 2:
        c.take("early_stopping.validation", "<Q")
        c.take("early_stopping.best_val", "<d")
        c.take("early_stopping.best_epoch", "<i")
        c.take("early_stopping.epochs_without_improvement", "<i")
        if c.take("early_stopping.best_weights", "<B") == 2:
            for name in tensor_names:
                c.matrix(f"best:{name}")
    c.raw("checksum", 8)
    if c.pos != len(data):
        raise ValueError(f"layout ends at {c.pos}, file has {len(data)} bytes")
    return {f.name: f for f in c.fields}


def patch(data: bytes, field: Field, value, offset_in_field: int = 0) -> bytes:
    """The checkpoint with one value of a field replaced and the checksum fixed."""
    fmt = field.fmt if field.fmt != "bytes" else "<f"
    packed = struct.pack(fmt, value)
    at = field.offset + offset_in_field
    return with_checksum(data[:at] + packed + data[at + len(packed) :])
