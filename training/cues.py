"""Which cues do the models use? Score them on test images after controlled changes.

    python -m training.cues NAME [NAME ...] | all [--data PATH] [--zoo DIR] [--sample 600] [--seed 0]

--data is CIFAKE or the labelled folder (or zip) the models were trained on, its test split rebuilt from the card
(as training.robustness); a model is never measured on data it was not trained on (named: a one-line error saying
which --data to pass; `all` leaves out the entries trained on other data, with a note). `all` means every detector:
every usable entry but the augmentation study's arms (`<arch>-aug-<augmentation>`, model_zoo.is_detector); name an
arm to measure it. Every change acts on the image as the model sees it (training/lib/study_images.py): CIFAKE's
32x32 arrays; a folder's images resized for a resize card, and for a crop card the crop of the judge's grid nearest
the image centre (one tile of the heatmap the dashboard stitches over the image), scored by the network on its own.
A condition that cannot apply at that size (tiles that do not divide it) is left out, and the card's cues.left_out
says why. On a stratified sample of the test split (--sample images, half per class, drawn with --seed; `--sample
all` for the whole split, a folder's decoded at the model's view), each model scores the images after:
    frequency   low-pass: only the lowest 4, 8, 12, 14 of 16 radial frequency bands; high-pass: only bands
                4-15 or 8-15 (the residual, on mid-grey); each image's Fourier phase with the amplitude of an
                image of the other class (scored as the phase's class), and of its own class (the control)
    location    the centre box or the border frame of 25% / 50% of the pixels set to mid-grey (equal counts);
                the top or bottom 10% / 25% of pixels by the model's own Grad-CAM set to mid-grey
    structure   tiles of 16, 8, 4 px shuffled within each image; grayscale; each colour channel alone
    JPEG grid   re-encoded at quality 75 after a diagonal shift of 0 (aligned) to 7 px, then shifted back
and records accuracy at the card's threshold, ROC-AUC and the mean P(FAKE) of each class in
`<zoo>/<name>/cues.csv`, with the class-mean spectrum difference of the test images (a folder's: of the sample)
and the spectrum of the model's input gradients in cue_spectra.npz (both published atomically; the Studies page
reads them; a folder model's name its test set in a test_set column / array, CIFAKE's files are as before).
Bands, conditions and columns: model_zoo/cue_vocabulary.py. Time on the 2-core CPU, another job sharing it: cnn_strided
19 s at --sample 400, 44 s at 1000; larger CNNs about twice that, EfficientNet-Lite0 about 15 times (estimated).
"""

from __future__ import annotations

import argparse
import sys
import time

from model_zoo import is_detector
from training.lib.cli import exit_on_user_error, load_study_data
from training.lib.cue_study import CONDITIONS, SAMPLE, class_spectra, evaluate_cues, format_table, sample_index
from training.lib.data import stderr_progress
from training.lib.image_folders import FolderDataset
from training.lib.study_images import own_test_set


def _sample(text: str) -> int | None:
    if text == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of images or 'all', got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError("must be at least 2 (one image per class)")
    return value


@exit_on_user_error
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.cues", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="zoo entries, or 'all' for every usable detector (not the augmentation study's arms)")
    parser.add_argument("--data", help="CIFAKE zip or folder, or the labelled folder or zip the models were trained on "
                                       "(its test split, rebuilt from the card; default: $CIFAKE_PATH)")
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--sample", type=_sample, default=SAMPLE,
                        help=f"test images, half per class (default {SAMPLE}; 'all' for the whole test split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample, tile orders and swap partners")
    args = parser.parse_args(argv)
    dataset, models = load_study_data(args.names, args.data, args.zoo, keep=is_detector)
    total = time.time()
    # CIFAKE's spectra are the same for every model: once. A folder's come from each model's own view of its sample.
    spectra = None if isinstance(dataset, FolderDataset) else class_spectra(dataset.test.images, dataset.test.labels)
    size = len(sample_index(dataset.test.labels, args.sample, args.seed))
    for name, loaded in models.items():
        own = own_test_set(loaded.card, dataset)
        where = f" of the {own['test_set']} test split ({own['view']})" if own else ""
        stderr_progress(f"{name}: {len(CONDITIONS)} conditions on {size:,} test images{where}")
        start = time.time()
        table = evaluate_cues(name, dataset, args.zoo, model=loaded.model, sample=args.sample, seed=args.seed,
                              spectra=spectra, progress=stderr_progress)
        print(format_table(name, table), flush=True)
        stderr_progress(f"{name}: done in {time.time() - start:.0f} s")
    stderr_progress(f"{len(models)} model(s) in {time.time() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
