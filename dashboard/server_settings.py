"""What the person running the dashboard decides, as opposed to what a visitor may change.

The CIFAKE path is a server setting: `$CIFAKE_PATH` (`make run CIFAKE_PATH=...`). Loading a
path reads files on the server, may show images from it and writes a decode cache beside it, so a
visitor may only change it when the server opts in with CIFAKE_ALLOW_PATH_EDIT=1 (a
single-user, local dashboard).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DATA_PATH_ENV = "CIFAKE_PATH"
PATH_EDIT_ENV = "CIFAKE_ALLOW_PATH_EDIT"
_YES = {"1", "true", "yes", "on"}


def path_edit_allowed(env: Mapping[str, str] | None = None) -> bool:
    """True only when the server set CIFAKE_ALLOW_PATH_EDIT to 1/true/yes/on."""
    env = os.environ if env is None else env
    return env.get(PATH_EDIT_ENV, "").strip().lower() in _YES


def server_data_path(env: Mapping[str, str] | None = None) -> str:
    """The dataset path the server was started with ('' when none)."""
    env = os.environ if env is None else env
    return env.get(DATA_PATH_ENV, "").strip()


def effective_data_path(visitor_value: object, env: Mapping[str, str] | None = None) -> str:
    """The path pages load: the visitor's entry only where the server allows editing, else the server's."""
    if path_edit_allowed(env) and isinstance(visitor_value, str) and visitor_value.strip():
        return visitor_value.strip()
    return server_data_path(env)
