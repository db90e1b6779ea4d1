"""Download CIFAKE from Kaggle (needs internet and Kaggle credentials for the `kaggle` route).

    python -m training.download            # via kagglehub, prints the path to use as CIFAKE_PATH
"""

from __future__ import annotations

import argparse
import sys

from training.lib.data import DATA_ENV, KAGGLE_DATASET


def download() -> str:
    """Fetch the dataset with kagglehub (cached in ~/.cache/kagglehub) and return its folder."""
    import kagglehub

    return kagglehub.dataset_download(KAGGLE_DATASET)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m training.download", description=__doc__).parse_args(argv)
    print(f"downloading {KAGGLE_DATASET} with kagglehub ...", file=sys.stderr)
    try:
        path = download()
    except Exception as exc:  # network, credentials, rate limits: all end the same way for a user
        print(f"error: download failed ({type(exc).__name__}: {exc}).\n"
              f"Alternatively: kaggle datasets download -d {KAGGLE_DATASET} -p data/ "
              f"and set {DATA_ENV}=data/cifake-real-and-ai-generated-synthetic-images.zip", file=sys.stderr)
        return 2
    print(f"CIFAKE is in {path}\nuse it with: export {DATA_ENV}={path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
