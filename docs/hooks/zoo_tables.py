"""MkDocs hook: tables that state the zoo's figures are built from the zoo's files when the site is built.

A page writes a marker such as `<!-- zoo:leaderboard -->` on its own line; the hook puts the table there.
The zoo read is $MODEL_ZOO_DIR, else the shipped one, like every command. `<!-- zoo:card_schema -->` is the typed
card's JSON Schema (model_zoo.card.card_json_schema), written from the code, so the page and the code cannot drift.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for model_zoo and training

from model_zoo import list_entries  # noqa: E402
from model_zoo.card import card_json_schema  # noqa: E402
from model_zoo.leaderboard_table import leaderboard_markdown  # noqa: E402

MARKER = re.compile(r"^<!-- zoo:(\w+) -->$", re.MULTILINE)
TABLES = {"leaderboard": leaderboard_markdown}
CODE_FREE = {"card_schema": lambda: "```json\n" + json.dumps(card_json_schema(), indent=2) + "\n```"}  # no zoo read


def on_page_markdown(markdown: str, **_) -> str:
    names = set(MARKER.findall(markdown))
    if not names:
        return markdown
    entries = list_entries()[0] if names - set(CODE_FREE) else []

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name in CODE_FREE:
            return CODE_FREE[name]()
        if name not in TABLES:
            raise ValueError(f"unknown zoo table marker {match.group(0)!r}; known: {sorted({*TABLES, *CODE_FREE})}")
        return TABLES[name](entries) if entries else "*(the zoo is empty)*"

    return MARKER.sub(table, markdown)
