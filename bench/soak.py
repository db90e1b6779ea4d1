"""The API soak: many clients sending a mix of hostile uploads for minutes while the server's RSS is sampled.

Used by `python -m bench.api_load --soak` (which starts the server). The mix, per 12 requests:
6 small valid JPEGs (32x32), 2 valid 2-megapixel JPEGs, 1 valid 12-megapixel JPEG, 1 non-image just
under the upload limit, and 2 truncated files (a 2 MP JPEG and a 32x32 PNG cut short). Valid images
must get 200, the others 422; a 5xx or a dropped connection is a failure.
"""

from __future__ import annotations

import http.client
import io
import itertools
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# The API's upload limit is 20 MB; the non-image leaves room for the multipart envelope.
NON_IMAGE_BYTES = 20 * 2**20 - 64 * 2**10


@dataclass
class Kind:
    name: str
    bodies: list[tuple[bytes, str]]
    expected: int  # the status a correct server answers
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only


def png(width: int, height: int, seed: int) -> bytes:
    from PIL import Image

    array = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def hostile_mix(jpeg: Callable[[int, int, int], bytes], multipart: Callable[[bytes, str | None], tuple[bytes, str]],
                model: str | None) -> list[Kind]:
    """The request kinds, each with its pre-built bodies; MIX says how often each is sent."""
    big = jpeg(1600, 1200, 7)
    return [
        Kind("32x32 JPEG", [multipart(jpeg(32, 32, seed), model) for seed in range(16)], 200),
        Kind("2 MP JPEG", [multipart(jpeg(1600, 1200, seed), model) for seed in range(2)], 200),
        Kind("12 MP JPEG", [multipart(jpeg(4000, 3000, 3), model)], 200),
        Kind("20 MB non-image", [multipart(os.urandom(NON_IMAGE_BYTES), model)], 422),
        Kind("truncated JPEG", [multipart(big[: len(big) * 3 // 5], model)], 422),
        Kind("truncated PNG", [multipart(png(32, 32, 5)[:150], model)], 422),
    ]


MIX = (0, 0, 1, 0, 4, 0, 2, 0, 1, 0, 3, 5)  # indexes into hostile_mix(): 6 small, 2 large, 1 huge, 1 big junk, 2 cut


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class RssSampler(threading.Thread):
    """Samples a process's RSS every `every` seconds into (seconds since start, bytes)."""

    def __init__(self, pid: int, every: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()
        self.start_time = time.perf_counter()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.samples.append((time.perf_counter() - self.start_time, rss_bytes(self.pid)))
            except (OSError, RuntimeError):
                return  # the server is gone
            self.stopped.wait(self.every)

    def window_median(self, start: float, end: float) -> float:
        values = [rss for t, rss in self.samples if start <= t < end]
        return float(np.median(values)) if values else float("nan")


@dataclass
class SoakResult:
    kinds: list[Kind]
    connection_errors: Counter
    seconds: float
    rss: RssSampler

    @property
    def requests(self) -> int:
        return sum(sum(k.statuses.values()) for k in self.kinds) + sum(self.connection_errors.values())

    @property
    def server_errors(self) -> int:
        return sum(n for k in self.kinds for status, n in k.statuses.items() if status >= 500)


def post(base: str, body: tuple[bytes, str], timeout: float = 120.0) -> int:
    data, content_type = body
    request = urllib.request.Request(f"{base}/predict", data=data, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def soak(base: str, pid: int, kinds: list[Kind], clients: int, seconds: float, progress_every: float = 30.0) -> SoakResult:
    """`clients` threads post the MIX in turn until `seconds` have passed; the server's RSS is sampled meanwhile."""
    counter, lock = itertools.count(), threading.Lock()
    errors: Counter = Counter()
    sampler = RssSampler(pid)
    sampler.start()
    deadline = sampler.start_time + seconds

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter)
            kind = kinds[MIX[i % len(MIX)]]
            body = kind.bodies[(i // len(MIX)) % len(kind.bodies)]
            start = time.perf_counter()
            try:
                status = post(base, body)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                with lock:
                    errors[type(reason).__name__] += 1
                continue
            with lock:
                kind.statuses[status] += 1
                kind.latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    next_note = sampler.start_time + progress_every
    while any(thread.is_alive() for thread in threads):
        time.sleep(0.5)
        if time.perf_counter() >= next_note and sampler.samples:
            next_note += progress_every
            done = sum(sum(k.statuses.values()) for k in kinds)
            elapsed = time.perf_counter() - sampler.start_time
            print(f"  {elapsed:5.0f} s: {done:,} answered, {sum(errors.values())} connection errors, "
                  f"server RSS {sampler.samples[-1][1] / 2**20:,.0f} MB", flush=True)
    elapsed = time.perf_counter() - sampler.start_time
    sampler.stopped.set()
    sampler.join(5)
    return SoakResult(kinds, errors, elapsed, sampler)


def report(result: SoakResult, clients: int) -> dict[str, float]:
    """Print the per-kind table and the RSS trend; returns the figures the targets are checked on."""
    print(f"{'upload':18} {'requests':>9} {'expected':>9} {'other':>6} {'5xx':>5} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in result.kinds:
        total = sum(kind.statuses.values())
        right = kind.statuses[kind.expected]
        fivexx = sum(n for status, n in kind.statuses.items() if status >= 500)
        latencies = np.array(kind.latencies or [float("nan")]) * 1000
        print(f"{kind.name:18} {total:>9,} {right:>9,} {total - right - fivexx:>6} {fivexx:>5} "
              f"{np.percentile(latencies, 50):>8.0f} {np.percentile(latencies, 99):>8.0f}")
        others = {status: n for status, n in kind.statuses.items() if status != kind.expected}
        if others:
            print(f"{'':18} unexpected statuses: {others}")
    fifth = result.seconds / 5
    first, last = result.rss.window_median(0, fifth), result.rss.window_median(4 * fifth, result.seconds + 1)
    peak = max((rss for _, rss in result.rss.samples), default=0)
    growth = (last - first) / first * 100
    print(f"{result.requests:,} requests from {clients} clients in {result.seconds:.0f} s "
          f"({result.requests / result.seconds:.1f} req/s); 5xx: {result.server_errors}; "
          f"connection errors: {sum(result.connection_errors.values())} {dict(result.connection_errors) or ''}")
    print(f"server RSS (median): first fifth ({fifth:.0f} s) {first / 2**20:,.0f} MB -> last fifth "
          f"{last / 2**20:,.0f} MB, growth {growth:+.1f}%; peak {peak / 2**20:,.0f} MB "
          f"({len(result.rss.samples)} samples)")
    return {"server_errors": result.server_errors, "connection_errors": sum(result.connection_errors.values()),
            "rss_growth_percent": growth, "rss_peak_mb": peak / 2**20}
