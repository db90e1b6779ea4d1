"""Start-up helpers for the local servers that benchmarks and browser tests launch (127.0.0.1 only)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 120.0, poll: float = 0.3) -> bytes:
    """Poll `url` until it answers 200 and return the body; fail fast if `process` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(poll)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


@contextmanager
def streamlit_server(env: dict[str, str], log: IO | int = subprocess.DEVNULL, timeout: float = 120.0,
                     poll: float = 0.3) -> Iterator[str]:
    """The dashboard as `make run` starts it (python -m dashboard.launch: `streamlit run streamlit_app.py` with the
    warm-up begun at launch) on a free 127.0.0.1 port; yields its URL once healthy, stops it on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.launch", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/_stcore/health", process, timeout=timeout, poll=poll)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
