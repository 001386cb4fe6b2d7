# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training a Transformer to reverse sequences
#
# This notebook runs the [training chapter](../training.md) end to end: it trains a small encoder-decoder
# Transformer on the reversal task with the paper's recipe, checks it on sequences it has never seen, decodes
# step by step, and looks inside its attention. It runs on a laptop CPU, and the numbers below were produced by
# the code above them, in the run you are looking at. With the same library versions and thread count, you get
# the same losses and accuracies; the timings depend on the machine.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from transformer_tutorial.data.tasks import BOS, EOS, PAD
from transformer_tutorial.torch import recorded_attention
from transformer_tutorial.torch.decoding import beam_search, greedy_decode
from transformer_tutorial.torch.training import (
    ReversalRecipe,
    exact_match_accuracy,
    train_reversal,
)

# tiny matrices: one thread is fastest, and the run is the same on every machine
torch.set_num_threads(1)
# figures about as wide as the page's column, and a lighter page
plt.rcParams["figure.dpi"] = 80
recipe = ReversalRecipe()
task = recipe.task
print(recipe)

# %% [markdown]
# ## The task
#
# Each example is a random sequence of 1 to 8 symbols (written here as letters); the model must output it
# reversed, followed by the end token.

# %%
examples = task.batch(np.random.default_rng(3), 4)
for src, tgt in zip(examples.src, examples.tgt_out, strict=True):
    print(f"{task.decode(src):20} ->  {task.decode(tgt)}")

# %% [markdown]
# ## Training
#
# Adam with $\beta = (0.9, 0.98)$ and $\epsilon = 10^{-9}$, the warm-up schedule, label smoothing with
# $\epsilon_{ls} = 0.1$, and a loss that skips padding. The run prints one line when it is done.

# %%
model, log = train_reversal(recipe, progress=False)
final_loss = np.mean(log.losses[-20:])
print(f"{recipe.steps} steps in {log.seconds:.1f} s, final loss {final_loss:.3f}")

# %% alt="Two line plots against the training step. Left, the learning rate rises linearly during the warm-up, then decays. Right, the label-smoothed training loss of each step and its 25-step average, with the loss of uniform guessing as a dotted line."
fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.2), layout="constrained")
left.plot(range(1, len(log.learning_rates) + 1), log.learning_rates)
left.set(xlabel="step", ylabel="learning rate", title="warm-up, then 1/√step")
right.plot(range(1, len(log.losses) + 1), log.losses, alpha=0.4, label="each step")
smoothed = np.convolve(log.losses, np.ones(25) / 25, mode="valid")
right.plot(range(25, len(log.losses) + 1), smoothed, label="average of 25 steps")
uniform = np.log(task.vocab_size)
label = f"guessing uniformly,\nln {task.vocab_size} = {uniform:.2f}"
right.axhline(uniform, color="gray", linestyle=":", label=label)
right.set(xlabel="step", ylabel="label-smoothed loss", title="training loss")
right.legend()
plt.show()

# %% [markdown]
# With label smoothing the loss cannot reach zero: the target itself spreads 10% of its mass over the whole
# vocabulary, so a perfect model still pays the entropy of that distribution.

# %% [markdown]
# ## Held-out accuracy
#
# A thousand distinct sequences of the held-out part (lengths 4 to 8), which the training stream never produces:
# a fixed hash of its symbols sets one sequence in four aside, and training redraws those (the
# [chapter](../../training/#a-task-that-needs-attention) explains the rule, and a test checks that no training
# step of this recipe draws one). Each is decoded greedily, and counts only if every symbol and the end token
# are right.

# %%
start = time.perf_counter()
accuracy = exact_match_accuracy(model, task, num_sequences=1000, seed=12345)
seconds = time.perf_counter() - start
print(f"exact match on 1000 held-out sequences: {accuracy:.1%} ({seconds:.1f} s)")

# %% [markdown]
# ## Greedy decoding, step by step
#
# The encoder reads the source once; the decoder then adds one token per step, each time choosing the most
# probable one. The table shows the prefix at each step and the three most probable next tokens.

# %%
source = torch.tensor([[3, 5, 7, 9, 11, 4]])  # a c e g i b
result = greedy_decode(model, source, max_new_tokens=10, record=True)


def token_name(i: int) -> str:
    return {PAD: "<pad>", BOS: "<s>", EOS: "</s>"}.get(i, task.decode([i]))


rows = ["| step | prefix | most probable next tokens |", "| --- | --- | --- |"]
for number, step in enumerate(result.steps, 1):
    top = torch.topk(step.probabilities, 3)
    pairs = zip(top.values.tolist(), top.indices.tolist(), strict=True)
    choices = ", ".join(f"`{token_name(i)}` {p:.3f}" for p, i in pairs)
    prefix = " ".join(token_name(i) for i in step.prefix)
    rows.append(f"| {number} | `{prefix}` | {choices} |")
print("source:", task.decode(source[0]), "  output:", task.decode(result.tokens[0]))
display(Markdown("\n".join(rows)))

# %% [markdown]
# ## Beam search
#
# Beam search keeps the few most probable prefixes instead of one. On a task this easy it finds the same answer;
# with a beam of one it is greedy decoding by construction (the tests check this).

# %%
beams = {}
for width in (1, 3):
    beams[width] = beam_search(model, source, beam_size=width, max_new_tokens=12)
    print(f"beam {width}: {task.decode(beams[width])}")
assert beams[1] == beams[3], "On a task this easy it finds the same answer"

# %% [markdown]
# ## The key/value cache
#
# Without a cache, every decoding step runs the decoder over the whole prefix again; with one, each layer keeps
# the keys and values of the earlier positions and only the newest token is processed (the newest query still
# attends over all of them: the [chapter](../../training/#the-keyvalue-cache) works out what that costs). The
# tokens are identical; the time is not. Here the model generates 200 tokens (past its end token, on purpose) both ways.

# %%
timings = {}
outputs = {}
for use_cache in (True, False):
    start = time.perf_counter()
    outputs[use_cache] = greedy_decode(
        model,
        source,
        max_new_tokens=200,
        use_cache=use_cache,
        stop_at_eos=False,
    ).tokens
    timings[use_cache] = time.perf_counter() - start
print("same tokens:", torch.equal(outputs[True], outputs[False]))
assert torch.equal(outputs[True], outputs[False]), "The tokens are identical"
speedup = timings[False] / timings[True]
print(f"cache {timings[True]:.2f} s, none {timings[False]:.2f} s: {speedup:.1f}x")

# %% [markdown]
# ## What the trained model attends to
#
# One example, every attention layer recorded during a teacher-forced pass. Queries are on the rows and keys on
# the columns. The encoder's self-attention reads the source; the decoder's self-attention reads the target so
# far (lower triangle only: the causal mask); the cross-attention shows, for every output position, which
# source position it copies from. For a reversal that should be the anti-diagonal.

# %% alt="Three heat maps of attention weights averaged over the heads, for one reversal example. The encoder's self-attention over the source; the decoder's self-attention, filled only on and below the diagonal because of the causal mask; and the cross-attention from target positions to source positions."
source_tokens = [task.decode([i]) for i in source[0]]
target_in = torch.tensor([[BOS, *source[0].flip(0).tolist()]])
target_tokens = ["<s>", *source_tokens[::-1]]
with torch.no_grad(), recorded_attention(model) as weights:
    model(source, target_in)

panels = [
    (
        "encoder.layers.1.self_attention",
        "encoder self-attention (layer 2)",
        source_tokens,
        source_tokens,
    ),
    (
        "decoder.layers.1.self_attention",
        "decoder self-attention (layer 2)",
        target_tokens,
        target_tokens,
    ),
    (
        "decoder.layers.1.cross_attention",
        "cross-attention (layer 2)",
        target_tokens,
        source_tokens,
    ),
]
fig = plt.figure(figsize=(7, 7), layout="constrained")
mosaic = fig.subplot_mosaic([["0", "1"], ["2", "."]])
axes = [mosaic[str(index)] for index in range(3)]
for ax, (name, title, query_labels, key_labels) in zip(axes, panels, strict=True):
    average = weights[name][0][0].mean(dim=0)  # average over the heads: (T, S)
    ax.imshow(average.numpy(), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(key_labels)), key_labels, rotation=90)
    ax.set_yticks(range(len(query_labels)), query_labels)
    ax.tick_params(length=0)
    ax.set_title(title + ",\nmean of heads")
axes[2].set_xlabel("source key")
axes[2].set_ylabel("target query")
plt.show()
