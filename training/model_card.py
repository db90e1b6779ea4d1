"""Write each entry's model card (Hugging Face shape, generated from its card.json) into the entry as README.md.

    python -m training.model_card NAME [NAME ...]|all [--zoo DIR] [--print]

README.md is what a model hub shows for a model folder, so an entry copied or uploaded as it is carries
its intended use, limits and measured figures. The text is model_zoo.card_markdown.model_card_markdown, the
same the dashboard's Model page shows; rerun this after evaluate, robustness or --folder runs to refresh
it (an unchanged entry is left untouched). --print writes to stdout instead of the entry.
"""

from __future__ import annotations

import argparse
import sys

from model_zoo import read_entry, staged_entry
from model_zoo.card_markdown import README_FILE, model_card_markdown
from training.lib.cli import exit_on_user_error, read_named_entries


def write_model_card(name: str, zoo: str | None = None) -> bool:
    """Write README.md into the entry atomically; False when it already held exactly this text."""
    entry = read_entry(name, zoo)
    text = model_card_markdown(entry)
    current = entry.path / README_FILE
    if current.is_file() and current.read_text(encoding="utf-8") == text:
        return False
    with staged_entry(name, zoo, from_existing=True) as folder:
        (folder / README_FILE).write_text(text, encoding="utf-8")
    return True


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.model_card", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME", help="zoo entries, or 'all'")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--print", action="store_true", help="print the model card(s) instead of writing README.md")
    args = parser.parse_args(argv)
    for entry in read_named_entries(args.names, args.zoo):
        if args.print:
            print(model_card_markdown(entry))
            continue
        changed = write_model_card(entry.name, args.zoo)
        print(f"{entry.name}: {README_FILE} {'written' if changed else 'already up to date'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
