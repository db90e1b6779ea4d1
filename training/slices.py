"""Where each model fails: its error rate per slice of its own test split, stored in the entry as slices.csv.

    python -m training.slices [NAME ...|all] [--by content|brightness|contrast|colourfulness|high_freq|jpeg_quality|
                              duplicates ...] [--data PATH] [--zoo DIR]

Without a NAME, the zoo's answer (its consensus, model_zoo.selection); `all` is every entry with stored test
predictions, the consensus included. --data is CIFAKE (default $CIFAKE_PATH) or the labelled folder the models were
trained on (its test split rebuilt from the card); `all` leaves out, with a note, the entries trained on other data.
The images' attributes (content class, brightness, contrast, colourfulness, high-frequency share, JPEG quality,
duplicates; model_zoo.image_attributes) are measured once per dataset and cached beside the decoded images (CIFAKE's
120,000 in about a minute on this 2-core CPU). Each model's stored predictions, at its own threshold, are cut by
content class, quartiles of each property and duplicate kind (model_zoo.slice_errors); slices.csv holds all of them, the
printed table those of --by (default: content), then the sentence naming the weakest slices. No model is run.
"""

from __future__ import annotations

import argparse
import sys

from model_zoo.slice_errors import ATTRIBUTES
from training.lib.cli import exit_on_user_error
from training.lib.data import stderr_progress
from training.lib.image_folders import dataset_attributes
from training.lib.slice_study import DEFAULT_BY, entries_to_slice, entry_slices, format_table, slice_data, write_slices


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.slices", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="zoo entries, or 'all' (default: the zoo's answer, its consensus)")
    parser.add_argument("--by", nargs="+", choices=ATTRIBUTES, default=list(DEFAULT_BY),
                        help="attributes whose slices are printed (all of them are stored); default: content")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder the models were trained on "
                                       "(default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    args = parser.parse_args(argv)
    dataset, entries = slice_data(entries_to_slice(args.names, args.zoo), args.data, every=args.names == ["all"])
    attributes = dataset_attributes(dataset, progress=stderr_progress)
    for entry in entries:
        table = entry_slices(entry, attributes)
        write_slices(entry, table, args.zoo)
        print(format_table(entry.name, table, args.by), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
