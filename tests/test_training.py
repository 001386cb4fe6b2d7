"""Training and decoding: the recipe's pieces against independent values, decoding variants against each other,
and short training runs that a broken model cannot match."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transformer_tutorial.config import TransformerConfig
from transformer_tutorial.data.tasks import (
    BOS,
    EOS,
    HELD_OUT_FROM_LENGTH,
    PAD,
    ReversalTask,
    is_held_out,
)
from transformer_tutorial.experiments.reversal import (
    HELD_OUT_SEED,
    measure_reversal_run,
)
from transformer_tutorial.torch.attention import MultiHeadAttention
from transformer_tutorial.torch.decoding import beam_search, greedy_decode
from transformer_tutorial.torch.mistakes import (
    ACCURACY_MARGIN,
    LOSS_MARGIN,
    TransformerWithoutPositions,
    with_token_split_attention,
)
from transformer_tutorial.torch.model import Transformer
from transformer_tutorial.torch.training import (
    ReversalRecipe,
    exact_match_accuracy,
    label_smoothed_loss,
    learning_rate,
    reversal_batches,
    smoothed_targets,
    train,
)


def test_learning_rate_schedule_against_the_formula_worked_by_hand():
    # d_model = 512, warmup = 4000: step 1 gives 512^-0.5 · 4000^-1.5, the peak at 4000 gives 512^-0.5 · 4000^-0.5
    assert learning_rate(1, 512, 4000) == pytest.approx(
        1 / (22.627417 * 252982.21), rel=1e-6
    )
    assert learning_rate(4000, 512, 4000) == pytest.approx(
        1 / (22.627417 * 63.245553), rel=1e-6
    )
    assert learning_rate(16000, 512, 4000) == pytest.approx(
        learning_rate(4000, 512, 4000) / 2, rel=1e-12
    )
    rates = [learning_rate(step, 512, 4000) for step in range(1, 20001)]
    assert int(np.argmax(rates)) + 1 == 4000
    assert all(np.diff(rates[:3999]) > 0) and all(np.diff(rates[4000:]) < 0)


def test_smoothed_targets_put_one_minus_epsilon_plus_epsilon_over_v_on_the_answer():
    targets = torch.tensor([[2, 0], [4, 1]])
    distribution = smoothed_targets(targets, vocab_size=5, smoothing=0.1)
    assert distribution.shape == (2, 2, 5)
    torch.testing.assert_close(distribution.sum(-1), torch.ones(2, 2))
    assert distribution[1, 0, 4].item() == pytest.approx(0.9 + 0.02)
    assert distribution[1, 0, 0].item() == pytest.approx(0.02)


def test_label_smoothed_loss_matches_pytorch_cross_entropy_with_padding_ignored():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 9, generator=generator, dtype=torch.float64)
    targets = torch.tensor([[3, 5, 2, PAD], [1, PAD, PAD, PAD], [8, 7, 6, 5]])
    for smoothing in (0.0, 0.1, 0.3):
        expected = F.cross_entropy(
            logits.reshape(-1, 9),
            targets.reshape(-1),
            ignore_index=PAD,
            label_smoothing=smoothing,
        )
        torch.testing.assert_close(
            label_smoothed_loss(logits, targets, smoothing),
            expected,
            rtol=1e-12,
            atol=0,
        )


def tiny_model(
    task: ReversalTask, seed: int = 0, cls=Transformer, **changes
) -> Transformer:
    torch.manual_seed(seed)
    config = TransformerConfig(
        task.vocab_size,
        task.vocab_size,
        **{
            "d_model": 32,
            "num_heads": 4,
            "num_layers": 1,
            "d_ff": 64,
            "dropout": 0.0,
            "max_len": 300,
            **changes,
        },
    )
    return cls(config).eval()


TASK = ReversalTask(num_symbols=6, min_length=2, max_length=6)


def test_a_wide_beam_finds_the_most_probable_sequence_found_by_exhaustive_search():
    # vocabulary of 5: every sequence can be listed
    task = ReversalTask(num_symbols=2, min_length=2, max_length=2)
    model = tiny_model(task, seed=3)
    src = torch.tensor([[3, 4]])

    def log_probability(tokens: list[int]) -> float:
        tgt = torch.tensor([[BOS, *tokens[:-1]]])
        with torch.no_grad():
            log_probs = torch.log_softmax(model(src, tgt), dim=-1)[0]
        return float(sum(log_probs[t, token] for t, token in enumerate(tokens)))

    candidates = [
        [*body, EOS]
        for length in range(4)
        for body in itertools.product(range(task.vocab_size), repeat=length)
        if EOS not in body
    ]
    best = max(candidates, key=log_probability)
    assert (
        beam_search(model, src, beam_size=task.vocab_size**3, max_new_tokens=4) == best
    )


def test_an_interrupted_training_run_leaves_the_attention_paths_as_it_found_them():
    model = tiny_model(TASK)
    # one layer set to the fused path by its owner
    model.decoder.layers[0].cross_attention.fused = True
    paths = [
        module.fused
        for module in model.modules()
        if isinstance(module, MultiHeadAttention)
    ]
    batches = reversal_batches(TASK, batch_size=4, seed=0)
    calls = 0

    def interrupted() -> tuple[torch.Tensor, ...]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt  # Ctrl-C in a notebook
        return batches()

    with pytest.raises(KeyboardInterrupt):
        train(model, interrupted, steps=10, warmup=4, progress=False)
    assert [
        module.fused
        for module in model.modules()
        if isinstance(module, MultiHeadAttention)
    ] == paths
    assert not model.training


# Short training runs: the loss falls below what an untrained model reaches, and the mistakes cost accuracy.

# held out: 1 in 4 of the 625 of length 4
QUICK = ReversalTask(num_symbols=5, min_length=2, max_length=4)


def quick_training(model: Transformer, steps: int = 250) -> float:
    """A few seconds of training; the mean loss of the last 20 steps."""
    batches = reversal_batches(QUICK, batch_size=32, seed=5)
    log = train(model, batches, steps=steps, warmup=40, lr_factor=0.8, progress=False)
    return float(np.mean(log.losses[-20:]))


@pytest.fixture(scope="module")
def trained():
    """The correct model after a quick training, its final loss, and its loss before training."""
    model = tiny_model(QUICK)
    batch = QUICK.batch(np.random.default_rng(99), 64)
    with torch.no_grad():
        logits = model(torch.from_numpy(batch.src), torch.from_numpy(batch.tgt_in))
        untrained_loss = label_smoothed_loss(
            logits, torch.from_numpy(batch.tgt_out), 0.1
        ).item()
    return model, quick_training(model), untrained_loss


def test_a_short_training_run_brings_the_loss_far_below_the_untrained_model(trained):
    model, loss, untrained_loss = trained
    # about ln(8): an untrained model spreads its bets over the vocabulary
    assert untrained_loss > 2.0
    # the broken models below stay above 1.0 after the same training
    assert loss < 0.8, loss
    assert exact_match_accuracy(model, QUICK, 100, seed=7) > 0.4


# Decoding with the trained model: its outputs differ from step to step and sequences end at different lengths,
# so a wrong position, a stale cache or a token after EOS changes what these tests see.

SOURCES = torch.from_numpy(QUICK.batch(np.random.default_rng(11), 16).src)


def test_beam_search_of_width_one_is_greedy_decoding(trained):
    model, _, _ = trained
    beams = []
    for row in range(8):
        src = SOURCES[row : row + 1]
        greedy = greedy_decode(model, src, max_new_tokens=8).tokens[0].tolist()
        beam = beam_search(model, src, beam_size=1, max_new_tokens=8)
        assert beam == greedy[: len(beam)] and all(
            token == PAD for token in greedy[len(beam) :]
        )
        beams.append(tuple(beam))
    # the answers differ from source to source, in their tokens and their lengths
    assert len(set(beams)) >= 6 and len({len(beam) for beam in beams}) >= 2


def test_greedy_decoding_records_each_step_for_the_table(trained):
    model, _, _ = trained
    result = greedy_decode(
        model,
        torch.tensor([[3, 4, 5, 6]]),
        max_new_tokens=5,
        record=True,
        stop_at_eos=False,
    )
    chosen = [step.chosen for step in result.steps]
    # reversed, then EOS
    assert chosen == result.tokens[0].tolist() == [6, 5, 4, 3, EOS]
    assert [step.prefix for step in result.steps] == [
        [BOS, *chosen[:t]] for t in range(5)
    ]
    for step in result.steps:
        assert step.chosen == int(step.probabilities.argmax())
        torch.testing.assert_close(step.probabilities.sum(), torch.tensor(1.0))


def test_beam_search_finds_an_answer_that_needs_exactly_max_new_tokens(trained):
    """Reversing four symbols takes five tokens, EOS included: a search one step short would never see EOS."""
    model, _, _ = trained
    assert beam_search(model, torch.tensor([[3, 4, 5, 6]]), 3, 5) == [6, 5, 4, 3, EOS]


def test_cached_greedy_decoding_gives_the_probabilities_of_recomputing_the_prefix(
    trained,
):
    model, _, _ = trained
    for row in range(4):
        src = SOURCES[row : row + 1]
        cached = greedy_decode(
            model, src, max_new_tokens=8, record=True, stop_at_eos=False
        )
        recomputed = greedy_decode(
            model,
            src,
            max_new_tokens=8,
            use_cache=False,
            record=True,
            stop_at_eos=False,
        )
        assert torch.equal(cached.tokens, recomputed.tokens)
        for with_cache, without in zip(cached.steps, recomputed.steps, strict=True):
            torch.testing.assert_close(
                with_cache.probabilities, without.probabilities, rtol=0, atol=1e-6
            )


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "recomputed"])
def test_batched_greedy_decoding_gives_each_sequence_its_own_tokens_then_padding(
    trained, use_cache
):
    model, _, _ = trained
    batched = greedy_decode(
        model, SOURCES, max_new_tokens=12, use_cache=use_cache
    ).tokens
    lengths = set()
    for row in range(len(SOURCES)):
        alone = greedy_decode(
            model, SOURCES[row : row + 1], max_new_tokens=12, use_cache=use_cache
        ).tokens[0]
        assert EOS in alone.tolist()
        end = alone.tolist().index(EOS) + 1
        lengths.add(end)
        assert torch.equal(batched[row, :end], alone[:end])
        assert (batched[row, end:] == PAD).all(), batched[row]
    assert len(lengths) >= 3  # the sequences end at different steps


def test_beam_search_on_sequences_that_end_at_different_lengths(trained):
    model, _, _ = trained

    def log_probability(src: torch.Tensor, tokens: list[int]) -> float:
        with torch.no_grad():
            log_probs = torch.log_softmax(
                model(src, torch.tensor([[BOS, *tokens[:-1]]])), dim=-1
            )[0]
        return float(sum(log_probs[t, token] for t, token in enumerate(tokens)))

    lengths = set()
    for row in range(6):
        src = SOURCES[row : row + 1]
        greedy = greedy_decode(model, src, max_new_tokens=12).tokens[0].tolist()
        greedy = greedy[: greedy.index(EOS) + 1]
        assert beam_search(model, src, beam_size=1, max_new_tokens=12) == greedy
        wide = beam_search(model, src, beam_size=4, max_new_tokens=12)
        assert (
            wide[-1] == EOS
            and log_probability(src, wide) >= log_probability(src, greedy) - 1e-9
        )
        lengths.add(len(wide))
    assert len(lengths) >= 2


@pytest.mark.parametrize("mistake", ["token split", "no positions"])
def test_the_mistakes_train_measurably_worse_on_reversal(trained, mistake):
    model, loss, _ = trained
    if mistake == "token split":
        broken = with_token_split_attention(tiny_model(QUICK))
    else:
        broken = tiny_model(QUICK, cls=TransformerWithoutPositions)
    broken_loss = quick_training(broken)
    assert broken_loss > loss + LOSS_MARGIN, (broken_loss, loss)
    broken_accuracy = exact_match_accuracy(broken, QUICK, 100, seed=7, use_cache=False)
    assert (
        broken_accuracy
        < exact_match_accuracy(model, QUICK, 100, seed=7) - ACCURACY_MARGIN
    )


# The held-out set of the stored measurement: replay every generator and compare.


def sequences(src: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(token) for token in row if token != PAD) for row in src}


def test_the_held_out_sequences_never_occur_in_any_training_stream_of_the_stored_measurement():
    recipe = ReversalRecipe()
    held_out = recipe.task.held_out_batch(
        np.random.default_rng(HELD_OUT_SEED), 1000
    ).src
    evaluated = sequences(held_out)
    assert len(evaluated) == 1000  # distinct
    assert all(is_held_out(np.array(sequence)) for sequence in evaluated)
    lengths = np.bincount((held_out != PAD).sum(axis=1))
    # lengths 4 to 8, taken in turn
    assert lengths[HELD_OUT_FROM_LENGTH:].tolist() == [200] * 5
    for seed in (0, 1, 2):  # the seeds the measurement trains with
        next_batch = ReversalRecipe(seed=seed).batches()
        trained_on = set().union(
            *(sequences(next_batch()[0].numpy()) for _ in range(recipe.steps))
        )
        assert trained_on.isdisjoint(evaluated)
        # the same draws without the split contain dozens of the evaluated sequences: the check can fail
        rng = np.random.default_rng(seed + 1)
        unfiltered = set().union(
            *(
                sequences(recipe.task.batch(rng, recipe.batch_size).src)
                for _ in range(400)
            )
        )
        assert len(unfiltered & evaluated) > 20


def test_the_measurement_evaluates_on_the_seed_the_test_replays(monkeypatch):
    seen = []

    def record(model, task, num_sequences, seed, use_cache=True):
        seen.append((task, num_sequences, seed))
        return 0.0

    monkeypatch.setattr(
        "transformer_tutorial.experiments.reversal.exact_match_accuracy", record
    )
    monkeypatch.setattr(
        "transformer_tutorial.experiments.reversal.train_reversal",
        lambda recipe: (None, _Log()),
    )
    measure_reversal_run(seeds=(0,))
    assert seen == [(ReversalRecipe().task, 1000, HELD_OUT_SEED)]


class _Log:
    seconds = 0.0
    losses = (0.0,)


def test_the_held_out_part_is_a_quarter_of_the_long_sequences_and_none_of_the_short_ones():
    task = ReversalTask(num_symbols=3, min_length=1, max_length=6)
    rng = np.random.default_rng(0)
    for length in range(1, 7):
        draws = rng.integers(3, 13, size=(4000, length))  # the 10 symbols of the recipe
        share = np.mean([is_held_out(row) for row in draws])
        assert share == 0 if length < HELD_OUT_FROM_LENGTH else abs(share - 0.25) < 0.03
    assert not any(
        is_held_out(row[row != PAD])
        for row in task.batch(rng, 500, part="training").src
    )
    with pytest.raises(ValueError, match="too few held-out sequences of length 4"):
        # 3^4 = 81 sequences of length 4, about 20 held out
        task.held_out_batch(rng, 100)
