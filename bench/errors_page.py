"""The Errors page's warm render time with the map of the test set (target <= 2 s).

    [CIFAKE_PATH=...] .venv/bin/python -m bench.errors_page [--zoo DIR] [--repeats 5] [--model NAME]

Runs the page's script through Streamlit's AppTest over the zoo (default: the shipped one): once cold (models,
predictions, maps and, with CIFAKE_PATH, the images and their attributes are read and cached), then --repeats warm
reruns, each timed; prints the median and the slowest, and how many points the map drew. The browser's drawing of
the WebGL scatter is not included (tests/integration/test_dashboard_browser.py shows it in Chromium).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0


def _length(values) -> int:
    """Points in a trace's x: a list, or plotly's typed array ({"dtype", "bdata"} in base64)."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.errors_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zoo", help="zoo folder (default: $MODEL_ZOO_DIR, else model_zoo/entries/)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", help="the model to show (default: the page's own, the zoo's answer)")
    args = parser.parse_args()
    if args.zoo:
        os.environ["MODEL_ZOO_DIR"] = str(Path(args.zoo).resolve())
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.run()
    start = time.perf_counter()
    at.switch_page("dashboard/pages/errors_page.py").run()
    if args.model:
        at.selectbox(key="errors_model").set_value(args.model).run()
    cold = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"the page failed: {at.exception[0].value}")
    charts = at.get("plotly_chart")
    points = 0
    if charts:
        import json

        figure = json.loads(charts[0].proto.spec)
        points = sum(_length(trace.get("x", [])) for trace in figure.get("data", []))
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    print(f"errors page ({at.selectbox(key='errors_model').value}; map of {points:,} points; images "
          f"{'on' if os.environ.get('CIFAKE_PATH') else 'off'}): cold {cold:.2f} s, warm median "
          f"{statistics.median(times):.2f} s, slowest {max(times):.2f} s over {args.repeats} reruns "
          f"(target <= {TARGET_SECONDS:.0f} s warm)")


if __name__ == "__main__":
    main()
