"""Fixtures shared by several test rooms."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


class ServeProcess:
    """Starts a real `openreels serve --workers 2` process on loopback and waits until it answers /health."""

    @staticmethod
    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    @staticmethod
    def start(data: Path, port: int, log: Path) -> subprocess.Popen:
        """The server over `data`, its output appended to `log` (a restart on the same port keeps one log)."""
        import httpx

        env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "openreels", "serve", "--data", str(data), "--port", str(port)]
        with open(log, "ab") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen([*cmd, "--workers", "2"], stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 180  # a loaded 2-core machine takes long to import torch
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200:
                    return proc
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


@pytest.fixture(scope="session")
def serve_process() -> type[ServeProcess]:
    return ServeProcess
