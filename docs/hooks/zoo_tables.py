"""MkDocs hook: tables that state the zoo's figures are built from the zoo's files when the site is built.

A page writes a marker such as `<!-- zoo:leaderboard -->` on its own line; the hook puts the table there.
The zoo read is $MODEL_ZOO_DIR, else the shipped one, like every command.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for model_zoo and training

from model_zoo import list_entries  # noqa: E402
from model_zoo.leaderboard_table import leaderboard_markdown  # noqa: E402

MARKER = re.compile(r"^<!-- zoo:(\w+) -->$", re.MULTILINE)
TABLES = {"leaderboard": leaderboard_markdown}


def on_page_markdown(markdown: str, **_) -> str:
    if not MARKER.search(markdown):
        return markdown
    entries, _problems = list_entries()

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"unknown zoo table marker {match.group(0)!r}; known: {sorted(TABLES)}")
        return TABLES[name](entries) if entries else "*(the zoo is empty)*"

    return MARKER.sub(table, markdown)
