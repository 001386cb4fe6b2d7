"""The checker's command line: ``python -m transformer_tutorial.exercises {list,check} …``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transformer_tutorial.exercises import (
    CHAPTERS,
    EXERCISES,
    KINDS,
    check_file,
    solution_path,
)


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def list_exercises() -> str:
    rows = []
    for _, (_, group) in CHAPTERS.items():
        for exercise in group:
            what = exercise.signature if exercise.kind != "predict" else "answer = …"
            rows.append((exercise.id, KINDS[exercise.kind], what))
    return table(rows, ("exercise", "kind", "your file defines"))


def check_folder(folder: Path, backend: str) -> tuple[str, int]:
    """Check every solution found in ``folder``
    (``chapter/name.py``); a table, and how many are not correct."""
    rows, failures, found = [], 0, set()
    for exercise_id, exercise in EXERCISES.items():
        path = solution_path(folder, exercise_id)
        if not path.is_file():
            rows.append((exercise_id, KINDS[exercise.kind], "-", "not attempted"))
            continue
        found.add(path.resolve())
        report = check_file(exercise_id, path, backend)
        failures += not report
        detail = "" if report else report.summary
        rows.append((exercise_id, KINDS[exercise.kind], report.status, detail[:72]))
    unknown = sorted(p for p in folder.rglob("*.py") if p.resolve() not in found)
    text = table(rows, ("exercise", "kind", "result", "detail"))
    correct = sum(row[2] == "correct" for row in rows)
    attempted = sum(row[2] != "-" for row in rows)
    text += (
        f"\n\n{correct} correct of {attempted} attempted; {len(rows)} exercises in all."
    )
    if unknown:
        text += (
            "\nNot an exercise (name a file chapter/name.py, as `list` shows): "
            + ", ".join(str(p.relative_to(folder)) for p in unknown)
        )
    return text, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m transformer_tutorial.exercises", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every exercise, with what your file must define")
    checking = commands.add_parser(
        "check", help="check one solution file, or a folder of them with --all"
    )
    checking.add_argument("exercise", nargs="?", help="chapter/name, as `list` shows")
    checking.add_argument(
        "file", nargs="?", type=Path, help="your solution, a .py file"
    )
    checking.add_argument(
        "--all",
        type=Path,
        metavar="DIR",
        help="check DIR/chapter/name.py for every exercise",
    )
    checking.add_argument(
        "--backend", choices=["auto", "numpy", "torch"], default="auto"
    )
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_exercises())
        return 0
    if args.all is not None:
        if args.exercise or args.file:
            parser.error("give either --all DIR or EXERCISE FILE, not both")
        if not args.all.is_dir():
            parser.error(f"{args.all} is not a folder")
        text, failures = check_folder(args.all, args.backend)
        print(text)
        return 1 if failures else 0
    if not args.exercise or not args.file:
        parser.error(
            "give the exercise and your file: check chapter/name FILE.py (or check --all DIR)"
        )
    if args.exercise not in EXERCISES:
        parser.error(
            f"no exercise {args.exercise!r}; `python -m transformer_tutorial.exercises list` shows them"
        )
    report = check_file(args.exercise, args.file, args.backend)
    print(report)
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main())
