"""Dashboard latency targets, on a small zoo trained here on generated data (speed does not depend on the data).

    .venv/bin/python -m bench.dashboard_latency [--repeats 10] [--keep DIR] [--zoo DIR] [--no-cold-start]

Prints:
  1. upload of one 32x32 image -> the zoo consensus's verdict and every detector's (what the inspect page
     judges), each with its decision and input check (size, novelty score), + the consensus's Grad-CAM (the
     mean of its detectors' maps), warm                                              (target <= 1.0 s)
  2. the same for a 4000x3000 JPEG (decode + downscale + verdicts + input checks + Grad-CAM + preview)
                                                                                     (target <= 2.0 s)
  3. app cold start: `streamlit run` until the health endpoint answers, and until the
     first page (the leaderboard, which loads every model) has rendered              (target <= 20 s)
The first page is timed in headless Chromium when /usr/bin/chromium exists, else by
AppTest in a fresh Python process (the same script run, without the browser).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import model_zoo  # noqa: E402, F401  (quiets TensorFlow's start-up log)
from bench.servers import streamlit_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARCHS = ("cnn_maxpool", "cnn_avgpool", "cnn_strided")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TARGETS = {"small": 1.0, "large": 2.0, "cold": 20.0}


def build_zoo(folder: Path) -> tuple[Path, Path]:
    """Generated CIFAKE-shaped data and the three custom CNNs trained 1 epoch and evaluated on it."""
    import tensorflow as tf

    from training.lib.data import load_cifake
    from training.lib.evaluation_run import evaluate
    from training.lib.synthetic import make_synthetic_cifake
    from training.lib.training_run import TrainConfig, train

    tf.get_logger().setLevel("ERROR")  # retracing notices from tiny training runs are noise here
    data = make_synthetic_cifake(folder / "cifake.zip", 100, 25, as_zip=True, seed=0)
    dataset = load_cifake(data, cache_dir=folder / "cache", progress=lambda _: None)
    zoo = folder / "zoo"
    from model_zoo.consensus import write_consensus

    with contextlib.redirect_stdout(io.StringIO()):  # training's per-epoch log is not a result of this bench
        for arch in ARCHS:
            train(TrainConfig(arch=arch, epochs=1, batch_size=64), dataset, zoo)
            evaluate(arch, dataset, zoo)
        write_consensus(zoo)  # the default answer, as `python -m training.build_consensus` makes it
    return zoo, data


def _png_32(seed: int = 0) -> bytes:
    from training.lib.synthetic import synthetic_image

    buffer = io.BytesIO()
    Image.fromarray(synthetic_image(np.random.default_rng(seed), fake=True)).save(buffer, format="PNG")
    return buffer.getvalue()


def _photo_jpeg(width: int = 4000, height: int = 3000, seed: int = 0) -> bytes:
    """A photo-like 12 MP JPEG: smooth colour fields plus sensor-like noise (realistic file size and decode cost)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    pixels = np.asarray(coarse, np.int16) + rng.integers(-12, 13, (height, width, 1), dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def time_upload(data: bytes, name: str, models: dict, repeats: int) -> tuple[float, list[float]]:
    """(first call, warm calls) seconds for what the inspect page does on an upload: model_zoo.judge (decode for
    every card, every model's verdict with its input check), the top model's Grad-CAM (the consensus's: its
    detectors' maps averaged), the preview."""
    from dashboard.overlays import overlay
    from dashboard.verdict_display import display_image
    from model_zoo.judge import judge
    from model_zoo.saliency import explanation_map

    first_model = next(iter(models))

    def once() -> float:
        start = time.perf_counter()
        result = judge(data, models.values(), name=name)
        assert result.error is None, result.error
        assert all(v.input_check is not None and v.decision for v in result.verdicts)
        loaded = models[first_model]
        heat = explanation_map(loaded.model, loaded.card, result.seen[first_model], "Grad-CAM", result.verdicts[0].label)
        overlay(result.seen[first_model], heat)
        display_image(data, name=name)
        return time.perf_counter() - start

    first = once()
    return first, [once() for _ in range(repeats)]


def cold_start(zoo: Path) -> dict[str, float | str]:
    """Seconds from `streamlit run` to a healthy server, and to the first page rendered."""
    env = {**os.environ, "MODEL_ZOO_DIR": str(zoo)}
    env.pop("CIFAKE_PATH", None)
    start = time.perf_counter()
    out: dict[str, float | str] = {}
    with streamlit_server(env, poll=0.1) as url:
        out["health"] = time.perf_counter() - start
        if Path(CHROMIUM).is_file():
            try:
                _first_page_in_browser(url)
                out["first_page"] = time.perf_counter() - start
                out["how"] = "headless Chromium"
            except ImportError:
                pass
    if "first_page" not in out:
        out["first_page"] = _first_page_apptest(zoo)
        out["how"] = "AppTest in a fresh process"
    return out


def _first_page_in_browser(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("[data-testid=stDataFrame]", timeout=120_000)  # the leaderboard table
            page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=120_000)
        finally:
            browser.close()


def _first_page_apptest(zoo: Path) -> float:
    code = (
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('streamlit_app.py', default_timeout=120).run()\n"
        "assert not at.exception and at.dataframe, 'first page did not render'\n"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "MODEL_ZOO_DIR": str(zoo)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _verdict(seconds: float, target: float) -> str:
    return f"{'OK ' if seconds <= target else 'MISS'} (target <= {target:g} s)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="warm repetitions per measurement")
    parser.add_argument("--keep", help="build the zoo in this folder and keep it (default: a temp dir)")
    parser.add_argument("--zoo", help="time this zoo (e.g. model_zoo) instead of building one")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the app cold-start measurement")
    args = parser.parse_args(argv)

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if args.zoo:
            zoo = Path(args.zoo)
        else:
            print(f"building a zoo of {', '.join(ARCHS)} (1 epoch on generated data) in {folder} ...", flush=True)
            started = time.perf_counter()
            zoo, _ = build_zoo(folder)
            print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)

        from model_zoo import list_entries, load_usable_models
        from model_zoo.novelty import load_stats
        from model_zoo.roles import detectors
        from model_zoo.selection import caching_loader
        from model_zoo.zoo import is_consensus

        entries, _ = list_entries(zoo)
        # What the inspect page judges with: the consensus first, then the detectors (loaded once, st.cache_resource).
        answering = [e for e in entries if is_consensus(e.card)][:1] + detectors(entries)
        models, _ = load_usable_models(answering, load=caching_loader())
        scored = sum(load_stats(m.entry) is not None for m in models.values())
        print(f"\nmachine: {os.cpu_count()} CPU cores; zoo {zoo}: {len(models)} models ({scored} with novelty "
              f"stats); {args.repeats} warm runs each\n")

        small, large = _png_32(), _photo_jpeg()
        rows = []
        for key, label, data, name in (("small", "32x32 PNG", small, "small.png"),
                                       ("large", f"4000x3000 JPEG ({len(large) / 2**20:.1f} MB)", large, "photo.jpg")):
            first, warm = time_upload(data, name, models, args.repeats)
            median, worst = statistics.median(warm), max(warm)
            rows.append((key, median))
            print(f"upload {label} -> {len(models)} verdicts + input checks + {next(iter(models))}'s Grad-CAM: warm "
                  f"median {median:.3f} s, "
                  f"max {worst:.3f} s, first call {first:.3f} s  {_verdict(median, TARGETS[key])}", flush=True)

        if args.no_cold_start:
            return 0
        cold = cold_start(zoo)
        print(f"app cold start: health endpoint after {cold['health']:.1f} s; first page rendered after "
              f"{cold['first_page']:.1f} s ({cold['how']})  {_verdict(float(cold['first_page']), TARGETS['cold'])}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
