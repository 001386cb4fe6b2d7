"""Validate once, at the entry point: a public function's check runs when a reader calls it,
and not again in the validated functions it calls with arguments derived from checked ones."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])

# True while a validated function runs: the validated functions it calls skip their checks.
_INSIDE_CHECKED_CALL = contextvars.ContextVar("inside_checked_call", default=False)


def validated(check: Callable[..., None]) -> Callable[[Function], Function]:
    """Run ``check`` with a public function's arguments
    before the function, once per call from outside.

    ``check`` takes the same arguments as the function and raises on bad ones. While the function runs, every validated
    function it calls skips its own check: its arguments were derived from arguments checked already, so a reader's
    mistake is reported once, by the function the reader called, and the work is not repeated at each layer.

    Examples:
        >>> def check_positive(x):
        ...     if x <= 0:
        ...         raise ValueError(f"x must be positive, got {x}")
        >>> @validated(check_positive)
        ... def halve(x):
        ...     return x / 2
        >>> halve(3)
        1.5
        >>> halve(-1)
        Traceback (most recent call last):
        ...
        ValueError: x must be positive, got -1
    """

    def decorate(function: Function) -> Function:
        @functools.wraps(function)
        def entry_point(*args: Any, **kwargs: Any) -> Any:
            if _INSIDE_CHECKED_CALL.get():
                return function(*args, **kwargs)
            check(*args, **kwargs)
            token = _INSIDE_CHECKED_CALL.set(True)
            try:
                return function(*args, **kwargs)
            finally:
                _INSIDE_CHECKED_CALL.reset(token)

        return entry_point  # type: ignore[return-value]

    return decorate
