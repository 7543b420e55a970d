"""A bounded loopback load generator: threads, one short HTTP connection per request (as
gunicorn's sync workers serve them), latencies recorded. Only 127.0.0.1 is ever a target."""
from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000 if ordered else 0.0


Request = tuple[str, str, bytes | None, dict[str, str]]  # method, path, body, headers


def run_load(port: int, requests: list[Request], concurrency: int, expect: tuple[int, ...]) -> Result:
    """Sends each request once, `concurrency` at a time; bounded by the list's length."""
    result, lock, index = Result(), threading.Lock(), iter(range(len(requests)))

    def worker():
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            method, path, body, headers = requests[i]
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(method, path, body=body, headers=headers)
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            elapsed = time.perf_counter() - start
            with lock:
                result.requests += 1
                result.latencies.append(elapsed)
                result.errors += status not in expect

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - start
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """gunicorn serving an app factory on a free loopback port, stopped on exit."""

    def __init__(self, target: str, env: dict[str, str], workers: int = 4):
        self.port = free_port()
        # The server's log goes to a file: a pipe nobody reads fills up and blocks gunicorn.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the server's lifetime
            "w+", prefix="huifang-gunicorn-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", target], cwd=ROOT, env={**os.environ, **env},
            stdout=subprocess.DEVNULL, stderr=self.log)

    def __enter__(self) -> Gunicorn:
        deadline = time.monotonic() + 120  # a busy shared machine boots workers slowly
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far: what a request costs the
        server whatever else the machine is doing."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for child in Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split():
            with contextlib.suppress(OSError):  # a worker that just exited
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.seek(0)
        errors = [line for line in self.log if "Traceback" in line or "ERROR" in line or "CRITICAL" in line]
        if errors:
            print(f"  server log {self.log.name}: {len(errors)} error line(s), first: {errors[0].strip()}")


def warm(port: int, path: str, times: int = 50) -> None:
    run_load(port, [("GET", path, None, {})] * times, 4, (200, 302, 404))


Call = Callable[[], None]
