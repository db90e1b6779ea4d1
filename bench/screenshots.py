"""Full-page screenshots of every dashboard page on the real zoo and CIFAKE, at laptop width, with timings.

    nice -n 10 .venv/bin/python -m bench.screenshots [--out /tmp/dashboard_review] [--data PATH] [--width 1366]
                                                     [--pages leaderboard model ...] [--tables]

For people to look at (the browser tests only check that pages render). Starts `streamlit run` on a free
local port (bench.servers) with $CIFAKE_PATH = --data, drives headless Chromium (/usr/bin/chromium), and
writes one PNG per view into --out: every page, the Inspect page after uploading a CIFAKE test image, a
4000x3000 photo-like JPEG, a PNG carrying Stable Diffusion "parameters" metadata and all three at once, and
the views behind clicks (another model on the Model page, its model card, heatmaps on the errors page, the
disagreement browser, the threshold override). --tables also shoots each wide table scrolled to its right
edge. Prints the seconds each view took to settle (cold start included in the first page) and any exception,
error box or warning on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

from bench.servers import streamlit_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGES = {"leaderboard": "", "generalisation": "generalisation", "model": "model", "errors": "errors",
         "inspect": "inspect_image", "data": "data", "studies": "studies", "about": "about_the_zoo", "clicks": None}
CIFAKE_SAMPLE = "test/FAKE/0 (10).jpg"
SD_PARAMETERS = ("a photo of a cat on a sofa, highly detailed\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
                 "CFG scale: 7, Seed: 1234, Size: 512x512, Model: v1-5-pruned-emaonly")
UPLOADER = "[data-testid=stFileUploaderDropzoneInput]"


def make_uploads(out: Path, data: Path) -> dict[str, Path]:
    """The three test uploads: a CIFAKE test image, a large photo-like JPEG, a PNG with SD metadata."""
    files = {"cifake": out / "cifake_test_fake_10.jpg", "big": out / "big_photo_4000x3000.jpg",
             "sd": out / "sd_parameters.png"}
    with zipfile.ZipFile(data) as archive:
        files["cifake"].write_bytes(archive.read(CIFAKE_SAMPLE))
    rng = np.random.default_rng(0)
    big = Image.fromarray((rng.random((30, 40, 3)) * 255).astype(np.uint8)).resize((4000, 3000), Image.BICUBIC)
    draw = ImageDraw.Draw(big)  # smooth noise with two flat shapes: photo-sized, not photo-like in content
    draw.ellipse((800, 600, 2200, 2000), fill=(220, 60, 40))
    draw.rectangle((2500, 1200, 3600, 2600), fill=(40, 90, 200))
    big.save(files["big"], quality=90)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", SD_PARAMETERS)
    sd = Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).resize((512, 512), Image.BICUBIC)
    sd.save(files["sd"], pnginfo=info)
    return files


class Shooter:
    """One Chromium tab on the app; settles after each action and saves full-page screenshots."""

    def __init__(self, page, url: str, out: Path, width: int, tables: bool) -> None:
        self.page, self.url, self.out, self.width, self.tables = page, url, out, width, tables

    def settle(self) -> None:
        """Wait until Streamlit has finished running the page script (twice: late reruns)."""
        self.page.wait_for_selector("[data-testid=stApp]", timeout=120_000)
        time.sleep(0.5)
        for _ in range(2):
            self.page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=300_000)
            time.sleep(0.8)

    def view(self, name: str, action) -> None:
        """Run `action`, time it until the app settles, and shoot the result."""
        start = time.monotonic()
        action()
        self.settle()
        print(f"{name}: {time.monotonic() - start:.1f} s", flush=True)
        self.shot(name)

    def go(self, path: str) -> None:
        self.page.goto(f"{self.url}/{path}")

    def shot(self, name: str) -> None:
        page = self.page
        # Streamlit scrolls inside its main container: grow the viewport to the content for a full page.
        height = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]'); "
                               "return m ? m.scrollHeight : 0 }")
        page.set_viewport_size({"width": self.width, "height": min(max(768, height + 40), 12000)})
        time.sleep(1.5)  # images and charts finish drawing
        page.screenshot(path=str(self.out / f"{name}.png"))
        page.set_viewport_size({"width": self.width, "height": 768})
        exceptions = page.locator("[data-testid=stException]").count()
        errors = page.locator("[data-testid=stAlertContentError]").count()
        warnings = page.locator("[data-testid=stAlertContentWarning]").all_inner_texts()
        print(f"  {name}.png: {height} px tall, {exceptions} exception(s), {errors} error box(es), "
              f"{len(warnings)} warning(s)", flush=True)
        for text in warnings:
            print("    warning:", " ".join(text.split())[:200], flush=True)
        if self.tables:
            for i, table in enumerate(page.get_by_test_id("stDataFrame").all()):
                if not table.is_visible():  # inside a closed expander
                    continue
                table.scroll_into_view_if_needed()
                table.hover()
                page.mouse.wheel(4000, 0)  # to the right-hand edge
                time.sleep(0.8)
                table.screenshot(path=str(self.out / f"{name}_table{i}_right.png"))

    def inspect(self, files: dict[str, Path]) -> None:
        for key, upload in [*files.items(), ("all3", None)]:
            self.go("inspect_image")
            self.settle()
            targets = [str(f) for f in files.values()] if upload is None else str(upload)
            self.view(f"inspect_{key}", lambda t=targets: self.page.set_input_files(UPLOADER, t))

    def clicks(self, files: dict[str, Path]) -> None:
        """The views behind clicks."""
        page = self.page

        def pick(option: str) -> None:
            page.get_by_test_id("stSelectbox").first.click()
            page.get_by_role("option", name=option, exact=True).click()

        self.go("model")
        self.settle()
        names = page.get_by_test_id("stSelectbox").first.inner_text()
        page.get_by_test_id("stSelectbox").first.click()
        options = [o for o in page.get_by_role("option").all_inner_texts() if o.strip() != names.strip()]
        page.keyboard.press("Escape")
        if options:
            self.view(f"model_{options[-1]}", lambda: pick(options[-1]))
        self.view("model_card_open", lambda: page.get_by_text("Model card (Hugging Face format", exact=False).click())
        self.go("errors")
        self.settle()
        self.view("errors_heatmaps", lambda: page.get_by_role("button", name="Heatmaps").first.click())
        self.go("")
        self.settle()

        def browse() -> None:
            page.get_by_role("button", name="Browse these images").click()
            page.wait_for_url("**/errors", timeout=120_000)

        self.view("errors_disagreements", browse)
        self.go("inspect_image")
        self.settle()
        page.set_input_files(UPLOADER, str(files["cifake"]))
        self.settle()
        self.view("inspect_override", lambda: page.get_by_text("One threshold for every model").click())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/dashboard_review"), help="folder for the PNGs")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("CIFAKE_PATH", "../shared/cifake/cifake.zip")),
                        help="CIFAKE zip (default: $CIFAKE_PATH, else ../shared/cifake/cifake.zip)")
    parser.add_argument("--width", type=int, default=1366, help="viewport width in pixels (a laptop: 1366)")
    parser.add_argument("--pages", nargs="+", choices=list(PAGES), default=list(PAGES), help="which views")
    parser.add_argument("--tables", action="store_true", help="also shoot every wide table scrolled right")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} is not installed (apt-get install -y chromium)", file=sys.stderr)
        return 2
    if not args.data.is_file():
        print(f"{args.data}: no CIFAKE zip there; pass --data PATH", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    files = make_uploads(args.out, args.data)
    env = {**os.environ, "CIFAKE_PATH": str(args.data.resolve())}
    with (args.out / "streamlit.log").open("w") as log, streamlit_server(env, log, timeout=180) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": args.width, "height": 768})
            shooter = Shooter(page, url, args.out, args.width, args.tables)
            for name in args.pages:
                if name == "inspect":
                    shooter.inspect(files)
                elif name == "clicks":
                    shooter.clicks(files)
                else:
                    shooter.view(name, lambda p=PAGES[name]: shooter.go(p))
        finally:
            browser.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
