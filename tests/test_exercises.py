"""The exercises and their checker: references that agree, every known mistake caught and named, clear errors
for a reader's broken file, the command line end to end, and every exercise on its page and on the list."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import transformer_tutorial
from transformer_tutorial.exercises import (
    CHAPTERS,
    EXERCISES,
    check,
    check_file,
    mistakes,
)
from transformer_tutorial.exercises.__main__ import main
from transformer_tutorial.exercises.catalogue import latent as latent_catalogue
from transformer_tutorial.exercises.comparison import compare

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FUNCTION_EXERCISES = [
    exercise for exercise in EXERCISES.values() if exercise.kind != "predict"
]
MISTAKES = [
    (exercise.id, mistake)
    for exercise in FUNCTION_EXERCISES
    for mistake in exercise.mistakes
]


@pytest.mark.parametrize(
    "exercise", FUNCTION_EXERCISES, ids=lambda exercise: exercise.id
)
def test_the_references_of_every_case_agree(exercise):
    """The package's NumPy code and PyTorch's operation give the same expected value on every case."""
    for case in exercise.cases():
        values = {name: compute() for name, compute in case.references.items()}
        first, *others = values.items()
        for name, value in others:
            difference = compare(first[1], value, exercise.rtol, exercise.atol)
            assert difference is None, (
                f"{case.description}: {first[0]} and {name} differ: {difference}"
            )


@pytest.mark.parametrize(
    ("exercise_id", "mistake"),
    MISTAKES,
    ids=lambda item: getattr(item, "name", item)[:40],
)
def test_every_known_mistake_is_caught_and_named(exercise_id, mistake):
    report = check(exercise_id, mistake.function)
    assert report.status == "wrong", str(report)
    assert report.mistake == mistake.name
    assert f"known mistake: {mistake.name}" in str(report)


def test_each_find_the_bug_exercise_shows_one_of_its_known_mistakes():
    planted = {
        "attention/mask-polarity": mistakes.attention,
        "multi-head/scale-by-d-model": mistakes.multi_head_attention,
        "positional-encodings/frequency-exponent": mistakes.sinusoidal_encoding,
        "architecture/unbiased-variance": mistakes.layer_norm,
        "training/no-warmup": mistakes.learning_rate,
        "causal-self-attention/mask-after-softmax": mistakes.causal_attention,
        "modern-attention/top-p-crossing": mistakes.nucleus_mask,
        "modern-attention/online-softmax-sum": mistakes.online_attention,
        "latent-attention/rope-on-latent": latent_catalogue.cache_row,
        "long-contexts/sinks-twice": mistakes.kept_positions,
        "encoder-only-models/tanh-gelu": mistakes.gelu_tanh,
        "vision-transformers/patch-strips": mistakes.patchify,
    }
    assert set(planted) == {
        exercise.id for exercise in FUNCTION_EXERCISES if exercise.kind == "bug"
    }
    for exercise_id, function in planted.items():
        assert function in [
            mistake.function for mistake in EXERCISES[exercise_id].mistakes
        ], exercise_id


def test_the_seed_token_split_is_named_with_its_shapes_and_values():
    report = check("multi-head/split-heads", mistakes.split_tokens)
    text = str(report)
    assert "known mistake: this splits tokens, not features" in text
    assert "x = (1, 2, 8) float64" in text
    assert "result has shape (1, 2, 1, 8), expected (1, 2, 2, 4)" in text
    assert "expected[0, 0, 0, :] = [0., 1., 2., 3.]" in text


def test_a_wrong_answer_that_is_no_known_mistake_shows_the_first_difference():
    def split_heads(x, num_heads):
        return np.zeros((x.shape[0], num_heads, x.shape[1], x.shape[2] // num_heads))

    report = check("multi-head/split-heads", split_heads)
    assert report.status == "wrong" and report.mistake is None
    assert "result[0, 0, 0, 1] is 0.0, expected 1.0" in str(report)


def test_predict_answers_are_compared_with_what_the_code_computes():
    assert check("multi-head/predict-split-shape", (2, 8, 10, 8))
    # a list is read as a tuple
    assert check("multi-head/predict-split-shape", [2, 8, 10, 8])
    wrong = check("multi-head/predict-split-shape", (2, 10, 8, 8))
    assert (
        wrong.status == "wrong"
        and "your answer is (2, 10, 8, 8); the code gives (2, 8, 10, 8)" in str(wrong)
    )
    assert check("training/predict-peak", 0.000699)
    assert not check("training/predict-peak", 0.0007 * 1.01)


def test_a_pytorch_function_gets_tensors():
    import torch

    def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
        # unflatten exists on tensors only
        return x.unflatten(-1, (num_heads, -1)).transpose(1, 2)

    report = check("multi-head/split-heads", split_heads)
    assert report and "(PyTorch)" in str(report)


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def test_a_missing_function_a_wrong_signature_and_the_readers_errors_are_clear(
    tmp_path,
):
    missing = write(tmp_path, "missing.py", "def split(x, h):\n    return x\n")
    assert str(check_file("multi-head/split-heads", missing)) == (
        f"error: multi-head/split-heads\n  {missing} defines no 'split_heads' (it defines: split)"
    )
    signature = write(tmp_path, "signature.py", "def split_heads(x):\n    return x\n")
    assert (
        "split_heads must take 2 arguments, as in split_heads(x, num_heads); yours is split_heads(x)"
        in str(check_file("multi-head/split-heads", signature))
    )
    raising = write(
        tmp_path,
        "raising.py",
        """
        def helper(x):
            return x.reshape(-1, 7)


        def split_heads(x, num_heads):
            return helper(x)
        """,
    )
    text = str(check_file("multi-head/split-heads", raising))
    assert text.startswith("error: multi-head/split-heads (NumPy)\n  case 1 of 8")
    assert (
        f'File "{raising}", line 7, in split_heads' in text
        and f'File "{raising}", line 3, in helper' in text
    )
    assert "ValueError: cannot reshape array" in text
    # none of the checker's own frames
    assert "exercises" + os.sep not in text.replace(str(tmp_path), "")
    broken = write(tmp_path, "broken.py", "import numpy as np\n\nvalue = 1 / 0\n")
    text = str(check_file("multi-head/split-heads", broken))
    assert (
        f'File "{broken}", line 3, in <module>' in text and "ZeroDivisionError" in text
    )
    assert "runpy" not in text


def test_only_the_named_file_runs_and_not_its_main_block(tmp_path):
    path = write(
        tmp_path,
        "solution.py",
        """
        def split_heads(x, num_heads):
            b, t, d = x.shape
            return x.reshape(b, t, num_heads, d // num_heads).transpose(0, 2, 1, 3)


        if __name__ == "__main__":
            raise SystemExit("the checker must not run this")
        """,
    )
    assert check_file("multi-head/split-heads", path)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    source = str(Path(transformer_tutorial.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": source + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    command = [sys.executable, "-m", "transformer_tutorial.exercises", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_the_command_line_checks_a_folder_with_one_right_and_one_wrong_solution(
    tmp_path,
):
    write(
        tmp_path,
        "causal-self-attention/causal-mask.py",
        """
        import numpy as np


        def causal_mask(query_length, key_length):
            return np.tril(np.ones((query_length, key_length), dtype=bool), k=key_length - query_length)
        """,
    )
    write(
        tmp_path,
        "multi-head/split-heads.py",
        """
        import numpy as np


        def split_heads(x, num_heads):  # the seed module's split
            return np.stack(np.split(x, num_heads, axis=1), axis=1)
        """,
    )
    result = run_cli("check", "--all", str(tmp_path))
    assert result.returncode == 1, result.stderr
    rows = {
        line.split()[0]: line
        for line in result.stdout.splitlines()
        if "/" in line.split(" ")[0]
    }
    assert set(rows) == set(EXERCISES)
    assert re.search(
        r"causal-self-attention/causal-mask\s+Implement\s+correct\s*$",
        rows["causal-self-attention/causal-mask"],
    )
    assert re.search(
        r"multi-head/split-heads\s+Implement\s+wrong\s+this splits tokens, not features$",
        rows["multi-head/split-heads"],
    )
    assert re.search(
        r"attention/softmax\s+Implement\s+-\s+not attempted$", rows["attention/softmax"]
    )
    assert (
        f"1 correct of 2 attempted; {len(EXERCISES)} exercises in all." in result.stdout
    )


def test_the_command_line_checks_one_file_and_refuses_unknown_exercises(
    tmp_path, capsys
):
    wrong = write(
        tmp_path,
        "split.py",
        "import numpy as np\n\n\ndef split_heads(x, h):\n    return x.reshape(1, -1)\n",
    )
    assert main(["check", "multi-head/split-heads", str(wrong)]) == 1
    assert capsys.readouterr().out.startswith(
        "wrong: multi-head/split-heads (NumPy)\n  case 1 of 8"
    )
    right = write(tmp_path, "answer.py", "answer = (2, 8, 10, 8)\n")
    assert main(["check", "multi-head/predict-split-shape", str(right)]) == 0
    assert (
        capsys.readouterr().out
        == "correct: multi-head/predict-split-shape\n  answer (2, 8, 10, 8)\n"
    )
    with pytest.raises(SystemExit) as refused:
        main(["check", "multi-head/no-such-exercise", str(wrong)])
    assert (
        refused.value.code == 2
        and "no exercise 'multi-head/no-such-exercise'" in capsys.readouterr().err
    )


def exercises_section(page: str) -> str:
    text = (DOCS / page).read_text()
    headings = [match.start() for match in re.finditer(r"^## ", text, re.MULTILINE)]
    last = text[headings[-1] :]
    assert last.startswith("## Exercises\n"), (
        f"{page}: the last section is not the exercises"
    )
    return last


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_ends_with_its_exercises_each_with_a_checked_solution(chapter):
    page, group = CHAPTERS[chapter]
    section = exercises_section(page)
    assert len(group) >= 3 and {exercise.kind for exercise in group} == {
        "implement",
        "predict",
        "bug",
    }
    assert len(re.findall(r"^### \d+\. ", section, re.MULTILINE)) == len(group)
    for exercise in group:
        # the solution, in a collapsed block, hands its answer to the checker (Sybil runs it)
        assert f'check("{exercise.id}"' in section, exercise.id
        if exercise.kind != "predict":
            command = rf"python -m transformer_tutorial\.exercises check (\\\n\s*)?{exercise.id} \S+\.py"
            assert re.search(command, section), exercise.id
    assert section.count('??? success "Solution"') == len(group)


def test_the_exercises_page_lists_every_exercise_with_its_command():
    text = (DOCS / "exercises.md").read_text()
    for exercise in EXERCISES.values():
        assert f"$check {exercise.id} {exercise.name}.py" in text
        assert exercise.title in text
    assert "exercises.md" in (ROOT / "mkdocs.yml").read_text()
