"""Measure what a vocabulary buys: the vocabulary size and the length of the site's
text in tokens, for characters, byte-pair encodings of a few sizes, and whole words.

python -m transformer_tutorial.experiments.tokenization --store   # under a minute

The text is the packaged corpus (``data.text.load_corpus``); ``--store`` stores the results in the package as
``tokenization`` (``transformer_tutorial.results.load("tokenization")``), which the tokens page reads.

The word vocabulary is every distinct word of ``bpe.split_words``, which is what byte-pair encoding reaches when it is
allowed to merge until no pair is left. A vocabulary learned from the first nine tenths of the text and applied to the
last tenth shows the price of whole words: some words of the last tenth were never seen.
"""

from __future__ import annotations

import argparse
from typing import Any

from transformer_tutorial.data.bpe import BPETokenizer, split_words
from transformer_tutorial.data.text import load_corpus
from transformer_tutorial.experiments import add_destination, keep, provenance

BPE_SIZES = (256, 512, 1024, 2048)
RESULT = "tokenization"


def corpus() -> str:
    """The text measured: the prose of the site's
    pages, as packaged (``data.text.load_corpus``)."""
    return load_corpus()


def measure(text: str, bpe_sizes: tuple[int, ...] = BPE_SIZES) -> dict[str, Any]:
    """Vocabulary size and length in tokens of ``text``
    for each tokenizer, and how the last tenth fares."""
    words = split_words(text)
    rows = [
        {"tokenizer": "characters", "vocab_size": len(set(text)), "tokens": len(text)}
    ]
    for size in bpe_sizes:
        tokenizer = BPETokenizer.train(text, size)
        rows.append(
            {
                "tokenizer": f"BPE {size}",
                "vocab_size": len(tokenizer),
                "tokens": len(tokenizer.encode(text)),
            }
        )
    rows.append(
        {"tokenizer": "words", "vocab_size": len(set(words)), "tokens": len(words)}
    )
    split = int(0.9 * len(words))
    seen, last_tenth = set(words[:split]), words[split:]
    unknown = [word for word in last_tenth if word not in seen]
    return {
        "characters": len(text),
        "rows": rows,
        "last_tenth": {
            "words": len(last_tenth),
            "words_never_seen_before": len(unknown),
            "characters_never_seen_before": len(
                set("".join(last_tenth)) - set("".join(words[:split]))
            ),
        },
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """``python -m transformer_tutorial.experiments.tokenization
    --store``: measure, print, store the results."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    add_destination(parser, RESULT)
    args = parser.parse_args(argv)
    results = measure(corpus())
    results.update(
        provenance("python -m transformer_tutorial.experiments.tokenization --store")
    )
    for row in results["rows"]:
        print(
            f"{row['tokenizer']:>10}: V = {row['vocab_size']:5d}, {row['tokens']:6d} tokens"
        )
    print(results["last_tenth"])
    keep(args, RESULT, results)
    return results


if __name__ == "__main__":
    main()
