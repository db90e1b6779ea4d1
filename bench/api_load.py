"""Load test of the prediction API on loopback: requests/s and latency percentiles.

    python -m bench.api_load [--requests 400] [--concurrency 8] [--zoo DIR] [--model NAME]
    python -m bench.api_load --soak [--clients 64] [--duration 300] [--p99-clients 16]

Starts `python -m dashboard.server.api` on 127.0.0.1 (a free port) in its own process,
waits for /health, then sends a bounded number of POST /predict requests from
a pool of concurrent clients: first 32x32 JPEGs, then 2-megapixel photos.
Only 127.0.0.1 is ever contacted. Without --zoo the custom CNNs are built with
random weights (speed does not depend on what they learned).

--soak instead sends a mixed hostile load (bench/soak.py: valid 32x32, 2 MP and 12 MP JPEGs, a
non-image just under the 20 MB limit, truncated files) from --clients clients for --duration
seconds while sampling the server's RSS, then times 32x32 uploads at --p99-clients clients.
Targets: no 5xx, no connection errors, RSS growth under 10% from the first to the last fifth of
the run (minute 1 to minute 5 at the default 300 s), p99 under 1 s for the 32x32 round.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.random_zoo import random_weight_zoo
from bench.servers import free_port, wait_until_answering

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def jpeg(width: int, height: int, seed: int) -> bytes:
    from PIL import Image

    from training.lib.synthetic import synthetic_image

    rng = np.random.default_rng(seed)
    base = Image.fromarray(synthetic_image(rng, fake=seed % 2 == 1)).resize((width, height), Image.BICUBIC)
    photo = np.clip(np.asarray(base, np.float32) + rng.normal(0, 4, (height, width, 1)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def multipart(data: bytes, model: str | None) -> tuple[bytes, str]:
    boundary = "benchboundary7d1f"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"bench.jpg\"\r\n"
             f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n"]
    if model:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n{model}\r\n".encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def load(base: str, bodies: list[tuple[bytes, str]], requests: int, concurrency: int) -> dict:
    """Send `requests` POSTs with `concurrency` clients; returns rate, latency percentiles and failures."""
    def one(i: int) -> tuple[float, int]:
        body, content_type = bodies[i % len(bodies)]
        request = urllib.request.Request(f"{base}/predict", data=body, method="POST", headers={"Content-Type": content_type})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        return time.perf_counter() - start, status

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    latencies = np.array([seconds for seconds, _ in results]) * 1000
    return {"rate": requests / wall, "p50": float(np.percentile(latencies, 50)), "p95": float(np.percentile(latencies, 95)),
            "p99": float(np.percentile(latencies, 99)), "failed": sum(status != 200 for _, status in results)}


def run_soak(base: str, pid: int, args: argparse.Namespace) -> int:
    """The hostile mix for args.duration seconds, then 32x32 latency at args.p99_clients; prints figures and targets."""
    from bench import soak

    kinds = soak.hostile_mix(jpeg, multipart, args.model)
    load(base, kinds[0].bodies, 2 * args.p99_clients, args.p99_clients)  # warm-up
    print(f"soak: {args.clients} clients for {args.duration:.0f} s; per 12 requests 6 small, 2 x 2 MP, 1 x 12 MP, "
          "1 non-image of 20 MB, 2 truncated", flush=True)
    figures = soak.report(soak.soak(base, pid, kinds, args.clients, args.duration), args.clients)
    small = load(base, kinds[0].bodies, args.p99_requests, args.p99_clients)
    print(f"32x32 JPEG after the soak, {args.p99_clients} clients, {args.p99_requests} requests: {small['rate']:.1f} req/s, "
          f"p50 {small['p50']:.0f} ms, p95 {small['p95']:.0f} ms, p99 {small['p99']:.0f} ms, failed {small['failed']}")
    targets = [("no 5xx", figures["server_errors"] == 0), ("no connection errors", figures["connection_errors"] == 0),
               ("RSS growth under 10%", figures["rss_growth_percent"] < 10),
               (f"p99 under 1 s for 32x32 at {args.p99_clients} clients", small["p99"] < 1000 and not small["failed"])]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per round (the 2 MP round sends a quarter)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--zoo", help="zoo to serve (default: random-weight custom CNNs in a temp zoo)")
    parser.add_argument("--model", help="ask for one model (default: the API's default, every model)")
    parser.add_argument("--soak", action="store_true", help="the mixed hostile load instead of the two rounds")
    parser.add_argument("--clients", type=int, default=64, help="soak: concurrent clients")
    parser.add_argument("--duration", type=float, default=300.0, help="soak: seconds of load")
    parser.add_argument("--p99-clients", type=int, default=16, help="soak: clients in the 32x32 latency round after it")
    parser.add_argument("--p99-requests", type=int, default=800, help="soak: requests in that round")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-api-") as scratch:
        zoo = args.zoo or str(random_weight_zoo(root=Path(scratch) / "zoo")[0])
        port = free_port()
        base = f"http://{HOST}:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
        command = [sys.executable, "-m", "dashboard.server.api", "--host", HOST, "--port", str(port), "--zoo", zoo]
        server = subprocess.Popen(command,
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            start = time.perf_counter()
            health = json.loads(wait_until_answering(f"{base}/health", server))
            print(f"API on {base} serving {', '.join(health['models'])} (ready in {time.perf_counter() - start:.1f} s); "
                  f"{os.cpu_count()} CPU cores shared by server and clients", flush=True)
            if args.soak:
                return run_soak(base, server.pid, args)
            rounds = [
                ("32x32 JPEG", [multipart(jpeg(32, 32, seed), args.model) for seed in range(16)], args.requests),
                ("2 MP JPEG", [multipart(jpeg(1600, 1200, seed), args.model) for seed in range(4)], max(1, args.requests // 4)),
            ]
            load(base, rounds[0][1], 2 * args.concurrency, args.concurrency)  # warm-up
            columns = ("requests", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed")
            print(f"{'upload':12} " + " ".join(f"{c:>8}" for c in columns))
            for label, bodies, requests in rounds:
                result = load(base, bodies, requests, args.concurrency)
                print(f"{label:12} {requests:>8} {args.concurrency:>8} {result['rate']:>8.1f} {result['p50']:>8.1f} "
                      f"{result['p95']:>8.1f} {result['p99']:>8.1f} {result['failed']:>8}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
