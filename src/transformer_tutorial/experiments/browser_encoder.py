"""all-MiniLM-L6-v2 for the attention explorer's own-sentence box: the weights as int8 with one scale
per row, the sentences the browser's tokenizer and encoder are checked on, and what the rounding costs.

    python -m transformer_tutorial.experiments.browser_encoder --store   # about a minute, one core

The site's build writes ``int8_checkpoint()`` next to the explorer (``theme/hooks/interactive.py``); the page downloads
it only when a reader asks. ``--store`` runs the NumPy encoder on the 200 ``check_sentences()`` twice, on the float
checkpoint and on the int8 one, and stores the largest attention difference and the cosine of the two sentence
embeddings as the result ``browser-encoder``, which the explorer page prints. The browser tests show that the page
computes what NumPy computes on the int8 weights, so these figures hold for the page.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import struct
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from transformer_tutorial.data.text import load_corpus
from transformer_tutorial.experiments import add_destination, keep

RESULT = "browser-encoder"
LEVELS = 127  # a row w is stored as round(w / s) in -127 … 127, with s = max |w| / 127


# --8<-- [start:quantise_rows]
def quantise_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A (R, C) matrix as int8 (R, C) and one float32 scale per row (R,):
    row r is approximately q[r] · scale[r], each entry within scale[r] / 2."""
    largest = np.abs(weight).max(axis=1)
    scale = np.where(largest > 0, largest / LEVELS, 1.0).astype(np.float32)
    q = np.rint(weight / scale[:, None].astype(np.float64))
    return q.astype(np.int8), scale


# --8<-- [end:quantise_rows]


def quantise_matrix(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same with one scale for the whole matrix (repeated per row), the scheme
    the page does not use: a few large entries then set the step for every row."""
    largest = np.abs(weight).max()
    scale = np.full(
        weight.shape[0], largest / LEVELS if largest > 0 else 1.0, np.float32
    )
    q = np.rint(weight / scale[:, None].astype(np.float64))
    return q.astype(np.int8), scale


def dequantise_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The float64 matrix (R, C) that int8 ``q`` and its row scales stand for."""
    return q.astype(np.float64) * scale.astype(np.float64)[:, None]


def quantised_names(weights: dict[str, np.ndarray]) -> list[str]:
    """The tensors stored as int8: every matrix (the embedding
    tables and the linear layers). Biases and LayerNorm
    parameters, 1-D and 0.4 % of the parameters, stay float32."""
    return [name for name, tensor in weights.items() if tensor.ndim == 2]


def int8_checkpoint(
    weights: dict[str, np.ndarray], metadata: dict[str, str], per_row: bool = True
) -> bytes:
    """The weights in the safetensors format: each matrix ``name`` as int8 with
    its row scales ``name.scale`` (float32), every other tensor as float32.
    ``metadata`` goes into the header as ``__metadata__``. With ``per_row=False``,
    every row of a matrix gets the matrix's one scale (for comparison)."""
    quantise = quantise_rows if per_row else quantise_matrix
    tensors: dict[str, np.ndarray] = {}
    for name, tensor in weights.items():
        if tensor.ndim == 2:
            tensors[name], tensors[f"{name}.scale"] = quantise(tensor)
        else:
            tensors[name] = np.asarray(tensor, dtype=np.float32)
    header: dict[str, Any] = {"__metadata__": metadata}
    offset, blobs = 0, []
    for name, tensor in tensors.items():
        blob = np.ascontiguousarray(tensor).tobytes()
        dtype = "I8" if tensor.dtype == np.int8 else "F32"
        header[name] = {
            "dtype": dtype,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts on an 8-byte boundary
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_int8_checkpoint(path: str | Path) -> dict[str, np.ndarray]:
    """The float64 weights that an ``int8_checkpoint``
    file stands for, under the checkpoint's names."""
    from transformer_tutorial.data.pretrained import read_safetensors

    stored = read_safetensors(path)
    return {
        name: dequantise_rows(tensor, stored[f"{name}.scale"])
        if tensor.dtype == np.int8
        else tensor.astype(np.float64)
        for name, tensor in stored.items()
        if not name.endswith(".scale")
    }


@functools.cache
def minilm_int8() -> bytes:
    """all-MiniLM-L6-v2's int8 file, with the sizes the page needs in its metadata."""
    from transformer_tutorial.data.pretrained import load_minilm

    pretrained = load_minilm()
    config = pretrained.config
    metadata = {
        "format": "int8 rows",
        "layers": str(config.num_layers),
        "heads": str(config.num_heads),
        "d_model": str(config.d_model),
        "eps": repr(config.eps),
        "max_length": str(pretrained.max_length),
    }
    return int8_checkpoint(pretrained.weights, metadata)


# Sentences with what a tokenizer gets wrong most easily; the rest are drawn from the site's own prose.
EDGE_CASES = (
    "",
    "   ",
    "Hello, world!",
    "Don't stop -- it's 3:45 p.m. (or so)...",
    "Café, naïve, façade, résumé, Ångström, Øresund, Straße, İstanbul.",
    "Crème brûlée costs €4.50 or £3.99; ¿qué? ¡sí!",
    "Ελληνικά και русский текст, עברית, العربية.",
    "東京は日本の首都です。北京是中国的首都。",
    "한국어 문장도 있습니다.",
    "Mixed 日本語 and English in one 句子.",
    "Emoji: 😀🎉👍🏽 and ❤️ and 🇫🇷 flags.",
    "Numbers: 1, 22, 333, 4444, 55555, 3.14159, 1e-5, 2,099,712 and 0x1F.",
    "The year 1999 and 2024-06-01T12:00:00Z, +44 (0)20 7946 0958.",
    "Email a.b@example.com or visit https://example.org/path?q=1&r=2#frag.",
    "Supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis.",
    "a" * 99 + " " + "b" * 100 + " " + "c" * 101 + ".",
    "Antidisestablishmentarianism and floccinaucinihilipilification are long words.",
    "Tabs\tand\nnew lines\r\nand  double  spaces.",
    "Zero\u200bwidth\u200bspaces, soft\u00adhyphens and non\u00a0breaking spaces.",
    "Control\x07characters\x1b and \ufffd replacement.",
    "[CLS] special [SEP] tokens [MASK] written [PAD] in [UNK] the text.",
    "[cls] lower-case brackets [sep] are not special.",
    "C++, C#, F#, .NET, Node.js and ASP.NET Core.",
    "x^2 + y^2 = z^2, a_i * b_j, 50% of $100 is $50 & ~{}|<>`.",
    "“Curly quotes”, ‘single ones’, «guillemets» and — dashes – here…",
    "ﬁnancial ligatures ﬂow; ½ and ² and ℃ and ™.",
    "ALL CAPS SENTENCE WITH SHOUTING!!!",
    "MiXeD CaSe WoRdS like iPhone, eBay and McDonald's.",
    "The the the the the the the the the the.",
    "Tokenization tokenizes tokenizers' tokenized tokens.",
    "unbelievably unaffable unaffordable unhappiness",
    "Hyphen-ated, slash/separated, dot.separated and under_scored words.",
    "Ṱ̈h̸̨e̷ ̧ẑ̵a̴l̶g̵o̸ text with combining marks.",
    "Vietnamese: Tiếng Việt có dấu.",
    "Thai: ภาษาไทย and Hindi: हिन्दी.",
    "Math symbols: ∑ ∫ √ ∞ ≈ ≠ ≤ ≥ → ← ∈ ∀ ∃.",
    "Currencies: ¥ ₹ ₽ ₩ ₿ $ € £.",
    "It's 10°C outside; 50°F inside.",
    "A sentence of one word.",
    "Why?",
    ".",
    "...",
    "😀",
    "中",
)

# about 600 tokens: cut at the model's limit of 256
LONG_TEXT = " ".join(
    "The river reached the old mill at the edge of the village, and the wheel turned faster."
    for _ in range(30)
)


@functools.cache
def check_sentences(count: int = 200) -> tuple[str, ...]:
    """``count`` texts: the edge cases above, three that pass
    the 256-token limit, and sentences of the site's prose
    (``data.text.load_corpus``), taken evenly through it."""
    long = (LONG_TEXT, LONG_TEXT.upper(), "word " * 300)
    fixed = (*EDGE_CASES, *long)
    prose = [
        line.strip()
        for line in load_corpus().splitlines()
        if 20 <= len(line.strip()) <= 400
    ]
    step = len(prose) / (count - len(fixed))
    picked = [prose[int(i * step)] for i in range(count - len(fixed))]
    return (*fixed, *picked)


@functools.cache
def _params(int8_file: str | None):
    from transformer_tutorial.data.pretrained import load_minilm
    from transformer_tutorial.numpy.encoder_only import EncoderOnlyParams

    pretrained = load_minilm()
    weights = (
        pretrained.weights if int8_file is None else read_int8_checkpoint(int8_file)
    )
    return EncoderOnlyParams.from_bert(weights, pretrained.config), pretrained


def encode(text: str, int8_file: str | Path | None = None) -> dict[str, Any]:
    """One text through the NumPy encoder, cut at the model's limit: its
    token ids, every layer's attention weights (L, H, T, T) and its
    unit-length sentence embedding (D,). With ``int8_file``, on the weights
    of that ``int8_checkpoint`` file; otherwise on the float checkpoint."""
    from transformer_tutorial.numpy.encoder_only import encoder_only, mean_pool

    params, pretrained = _params(None if int8_file is None else str(int8_file))
    ids = pretrained.tokenizer.encode(text, max_length=pretrained.max_length)[None]
    with threadpool_limits(1):  # small matrices: one BLAS thread is fastest
        hidden, weights = encoder_only(ids, params, return_weights=True)
    pooled = mean_pool(hidden, ids)[0]
    return {
        "ids": ids[0].tolist(),
        "attention": np.stack([w[0] for w in weights]),
        "embedding": pooled / np.linalg.norm(pooled),
    }


def measure(int8_file: str | Path, texts: tuple[str, ...]) -> dict[str, Any]:
    """Float checkpoint against int8 weights on ``texts``:
    the largest attention difference and the cosines."""
    differences, cosines = [], []
    for text in texts:
        exact, rounded = encode(text), encode(text, int8_file)
        differences.append(
            float(np.abs(exact["attention"] - rounded["attention"]).max())
        )
        cosines.append(float(exact["embedding"] @ rounded["embedding"]))
    return {
        "sentences": len(texts),
        "largest_attention_difference": max(differences),
        "median_attention_difference": float(np.median(differences)),
        "smallest_cosine": min(cosines),
        "mean_cosine": float(np.mean(cosines)),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m transformer_tutorial.experiments.browser_encoder
    --store``: measure, print, store."""
    import tempfile

    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    from transformer_tutorial.data.pretrained import load_minilm

    data = minilm_int8()
    one_scale = int8_checkpoint(load_minilm().weights, {}, per_row=False)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "rows.bin").write_bytes(data)
        Path(folder, "matrix.bin").write_bytes(one_scale)
        results = measure(Path(folder, "rows.bin"), check_sentences())
        results["one_scale_per_matrix"] = measure(
            Path(folder, "matrix.bin"), check_sentences()
        )
    results["bytes"] = len(data)
    results["command"] = (
        "python -m transformer_tutorial.experiments.browser_encoder --store"
    )
    results["machine"] = f"{platform.machine()}, {platform.python_implementation()}"
    results["date"] = datetime.date.today().isoformat()
    print(json.dumps(results, indent=1))
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
