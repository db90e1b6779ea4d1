"""What the person running the dashboard decides, as opposed to what a visitor may change.

The CIFAKE path is a server setting: `$CIFAKE_PATH` (`make run CIFAKE_PATH=...`). Loading a
path reads files on the server, may show images from it and writes a decode cache beside it, so a
visitor may only change it when the server opts in with CIFAKE_ALLOW_PATH_EDIT=1 (a
single-user, local dashboard).

The inspect page's warm-up (dashboard.warm_start) runs in the background when the app starts, unless the server
sets CIFAKE_WARM_UP=0: a dashboard that never judges uploads, or a test process that starts many apps, saves the
memory and CPU it takes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

DATA_PATH_ENV = "CIFAKE_PATH"
PATH_EDIT_ENV = "CIFAKE_ALLOW_PATH_EDIT"
WARM_UP_ENV = "CIFAKE_WARM_UP"
_YES = {"1", "true", "yes", "on"}
_NO = {"0", "false", "no", "off"}


def path_edit_allowed(env: Mapping[str, str] | None = None) -> bool:
    """True only when the server set CIFAKE_ALLOW_PATH_EDIT to 1/true/yes/on."""
    env = os.environ if env is None else env
    return env.get(PATH_EDIT_ENV, "").strip().lower() in _YES


def warm_up_wanted(env: Mapping[str, str] | None = None) -> bool:
    """False only when the server set CIFAKE_WARM_UP to 0/false/no/off: warming is the default."""
    env = os.environ if env is None else env
    return env.get(WARM_UP_ENV, "").strip().lower() not in _NO


def server_data_path(env: Mapping[str, str] | None = None) -> str:
    """The dataset path the server was started with ('' when none)."""
    env = os.environ if env is None else env
    return env.get(DATA_PATH_ENV, "").strip()


def effective_data_path(visitor_value: object, env: Mapping[str, str] | None = None) -> str:
    """The path pages load: the visitor's entry only where the server allows editing, else the server's."""
    if path_edit_allowed(env) and isinstance(visitor_value, str) and visitor_value.strip():
        return visitor_value.strip()
    return server_data_path(env)
