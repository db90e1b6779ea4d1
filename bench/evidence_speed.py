"""Speed of the evidence tests (model_zoo.evidence) and of the inspect page's first upload.

    nice -n 10 .venv/bin/python -m bench.evidence_speed [--zoo DIR] [--data PATH] [--repeats 5]
                                                        [--parts warm large first-upload] [--shots DIR]

Prints:
  1. warm: every evidence test of a 32x32 CIFAKE upload under the zoo's answer (the consensus: one forward pass per
     member), median of --repeats runs after one that compiles                           (target <= 1.5 s)
  2. large: a generated 1024x768 image under a crop-policy model (a copy of the zoo's cnn_strided entry with a
     32 px crop policy, in a temporary zoo): its verdict, its evidence tests (each change on each of its 16 crops),
     its stitched Grad-CAM and its whole-image occlusion map, warm
  3. first-upload: the dashboard as `make run` starts it (python -m dashboard.launch) on the zoo, the Inspect page
     opened in headless Chromium as soon as the server answers, a 32x32 CIFAKE test image uploaded the moment the
     page is ready; seconds until the page shows the verdict, "Why, in words", and everything with the heatmaps
     (no settling pauses counted), and the server's own warm-up report                 (target <= 5 s)
     With --shots DIR it then uploads a CIFAKE FAKE, a CIFAKE REAL and a generated 1024x768 photo, one at a time,
     and saves a full-page screenshot of each.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import model_zoo  # noqa: F401  (quiets TensorFlow's start-up log)
from bench.servers import streamlit_server
from model_zoo.crops import crop_policy

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
UPLOADER = "[data-testid=stFileUploaderDropzoneInput]"
CIFAKE_FAKE, CIFAKE_REAL = "test/FAKE/100 (3).jpg", "test/REAL/0010 (2).jpg"


def cifake_image(data: Path, member: str) -> bytes:
    with zipfile.ZipFile(data) as archive:
        return archive.read(member)


def photo_1024x768(seed: int = 0) -> bytes:
    """Smooth colour noise with two flat shapes, 1024x768 PNG: photo-sized, not a photo."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).resize((1024, 768), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    draw.ellipse((200, 150, 550, 500), fill=(220, 60, 40))
    draw.rectangle((620, 300, 900, 650), fill=(40, 90, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def warm(zoo: str | None, upload: bytes, repeats: int) -> None:
    from model_zoo.evidence import evidence_for
    from model_zoo.judge import judge
    from model_zoo.selection import caching_loader, load_choice

    models = load_choice("zoo", zoo, load=caching_loader())
    judged = judge(upload, models, name="cifake.jpg")
    start = time.perf_counter()
    evidence_for(models[0], judged)
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        evidence = evidence_for(models[0], judged)
        runs.append(time.perf_counter() - start)
    median = statistics.median(runs)
    print(f"warm: {len(evidence.tests) - 1} evidence tests + the flipping change, {models[0].name} on a 32x32 upload: "
          f"median {median:.2f} s of {repeats} (min {min(runs):.2f}, max {max(runs):.2f}; first run, compiling: "
          f"{first:.1f} s) {'OK' if median <= 1.5 else 'MISS'} (target <= 1.5 s)", flush=True)


def crop_zoo(zoo: Path, target: Path) -> Path:
    """A temporary zoo holding one crop-policy entry: the zoo's cnn_strided judging 32 px crops at full resolution."""
    shutil.copytree(zoo / "cnn_strided", target / "strided_crops")
    card_path = target / "strided_crops" / "card.json"
    card = json.loads(card_path.read_text())
    card["name"] = "strided_crops"  # card field
    card["preprocessing"]["input_policy"] = crop_policy(32)  # card field
    card_path.write_text(json.dumps(card, indent=1))
    return target


def large(zoo: Path, repeats: int) -> None:
    from model_zoo.evidence import evidence_for
    from model_zoo.judge import judge
    from model_zoo.saliency import explanation_map
    from model_zoo.selection import load_choice

    with tempfile.TemporaryDirectory() as folder:
        models = load_choice("strided_crops", crop_zoo(zoo, Path(folder)))
        loaded, photo = models[0], photo_1024x768()
        timings: dict[str, list[float]] = {"verdict": [], "evidence": [], "Grad-CAM": [], "Occlusion": []}
        for run in range(repeats + 1):
            start = time.perf_counter()
            judged = judge(photo, models, name="photo.png")
            times = {"verdict": time.perf_counter() - start}
            start = time.perf_counter()
            evidence = evidence_for(loaded, judged)
            times["evidence"] = time.perf_counter() - start
            for method in ("Grad-CAM", "Occlusion"):
                start = time.perf_counter()
                explanation_map(loaded.model, loaded.card, judged.seen[loaded.name], method, evidence.verdict)
                times[method] = time.perf_counter() - start
            if run:  # the first run compiles
                for key, value in times.items():
                    timings[key].append(value)
        parts = ", ".join(f"{key} {statistics.median(values):.2f} s" for key, values in timings.items())
        total = sum(statistics.median(values) for values in timings.values())
        print(f"large: a 1024x768 image under a crop-policy model ({evidence.crops} crops of 32 px), warm medians of "
              f"{repeats}: {parts}; together {total:.2f} s", flush=True)


def _settle(page) -> None:
    page.wait_for_selector("[data-testid=stApp]", timeout=180_000)
    time.sleep(0.3)
    for _ in range(2):
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=300_000)
        time.sleep(0.5)


def _upload(page, tmp: Path, name: str, data: bytes) -> dict[str, float]:
    """Seconds from choosing the file until the page shows the verdict, until it shows "Why, in words", and until its
    script has finished (the heatmaps drawn); no settling pauses are counted."""
    path = tmp / name
    path.write_bytes(data)
    start = time.monotonic()
    page.set_input_files(UPLOADER, str(path))
    marks = {}
    for mark, selector in (("verdict", "text=The zoo's answer"), ("words", "text=scored this image again"),
                           ("all", "[data-testid=stApp][data-test-script-state=notRunning]")):
        page.wait_for_selector(selector, timeout=300_000)
        marks[mark] = time.monotonic() - start
    return marks


def _marks(marks: dict[str, float]) -> str:
    return (f"verdict {marks['verdict']:.1f} s, Why in words {marks['words']:.1f} s, everything with the heatmaps "
            f"{marks['all']:.1f} s")


def _shot(page, path: Path, width: int = 1366) -> None:
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]'); "
                           "return m ? m.scrollHeight : 0 }")
    page.set_viewport_size({"width": width, "height": min(max(768, height + 40), 12000)})
    time.sleep(1.5)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 768})


def first_upload(zoo: str | None, data: Path, shots: Path | None) -> None:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "CIFAKE_PATH": str(data)}
    if zoo:
        env["MODEL_ZOO_DIR"] = zoo
    launched = time.monotonic()
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "server.log", "w") as log, \
            streamlit_server(env, log, timeout=180) as url, sync_playwright() as playwright:
        tmp = Path(folder)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url}/inspect_image")
            page.wait_for_selector(UPLOADER, state="attached", timeout=180_000)
            _settle(page)
            ready = time.monotonic() - launched
            marks = _upload(page, tmp, "first.jpg", cifake_image(data, CIFAKE_FAKE))
            print(f"first-upload: the Inspect page was ready {ready:.1f} s after launch; the first 32x32 upload then "
                  f"showed its {_marks(marks)} {'OK' if marks['all'] <= 5 else 'MISS'} (target <= 5 s)", flush=True)
            log.flush()
            warm_up = [line.split(" ", 2)[-1].strip() for line in (tmp / "server.log").read_text().splitlines()
                       if " warm-up: " in line]
            print(f"  the server's warm-up (begun at launch): {'; '.join(warm_up) or 'not reported yet'}", flush=True)
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                uploads = {"inspect_cifake_fake": ("fake.jpg", cifake_image(data, CIFAKE_FAKE)),
                           "inspect_cifake_real": ("real.jpg", cifake_image(data, CIFAKE_REAL)),
                           "inspect_photo_1024x768": ("photo_1024x768.png", photo_1024x768())}
                for name, (file, content) in uploads.items():
                    page.goto(f"{url}/inspect_image")
                    page.wait_for_selector(UPLOADER, state="attached", timeout=180_000)
                    _settle(page)
                    marks = _upload(page, tmp, file, content)
                    _settle(page)
                    for expander in ("The tests behind these sentences", "The smallest change that flips the verdict"):
                        page.get_by_text(expander).click()  # open both, so the shot shows the table and pictures
                    time.sleep(1.0)
                    _shot(page, shots / f"{name}.png")
                    print(f"  {name}.png ({_marks(marks)})", flush=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.evidence_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--data", default=os.environ.get("CIFAKE_PATH"), help="CIFAKE zip (default: $CIFAKE_PATH)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--parts", nargs="+", default=["warm", "large", "first-upload"],
                        choices=["warm", "large", "first-upload"])
    parser.add_argument("--shots", type=Path, help="also save Inspect page screenshots here (with first-upload)")
    args = parser.parse_args(argv)
    if not args.data:
        parser.error("CIFAKE is needed for the uploads: pass --data or set CIFAKE_PATH")
    zoo = Path(args.zoo or model_zoo.zoo_dir())
    if "warm" in args.parts:
        warm(args.zoo, cifake_image(Path(args.data), CIFAKE_FAKE), args.repeats)
    if "large" in args.parts:
        large(zoo, args.repeats)
    if "first-upload" in args.parts:
        first_upload(args.zoo, Path(args.data), args.shots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
