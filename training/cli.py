"""Shared behaviour of the command lines: user errors end in one line and exit status 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

from model_zoo import ImageError, ZooError
from training.data import DatasetError

USER_ERRORS = (DatasetError, ZooError, ImageError, FileNotFoundError)


def exit_on_user_error(main: Callable[..., int]) -> Callable[..., int]:
    """Turn expected failures into `error: ...` on stderr and exit status 2, not a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("\ninterrupted; finished epochs are kept - run the same command again to resume", file=sys.stderr)
            return 130

    return wrapper
