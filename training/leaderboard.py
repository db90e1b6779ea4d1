"""Print the zoo's leaderboard as a Markdown table (the docs site builds docs/zoo.md's table with it).

    python -m training.leaderboard [--zoo DIR]

The table is model_zoo.leaderboard_table's: the dashboard's own frame, formatted for Markdown (its docstring says
what each column means).
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import list_entries
from model_zoo.leaderboard_table import leaderboard_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args(argv)
    entries, problems = list_entries(args.zoo)
    for problem in problems:
        print(f"skipped {problem.name}: {problem.message}", file=sys.stderr)
    print(leaderboard_markdown(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
