"""`hpcast registry ui` starts the real MLflow UI, bound to 127.0.0.1, on the registry's database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


@pytest.mark.slow
def test_registry_ui_serves_on_localhost(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HPCAST_DATA": str(tmp_path / "data")}
    env.pop("HPCAST_TRACKING_URI", None)
    server = subprocess.Popen([sys.executable, "-m", "hpcast", "registry", "ui", "--port", str(port)], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    answer = response.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert answer == "OK", server.stdout.read().decode() if server.poll() is not None else "no answer"
        assert (tmp_path / "data" / "mlflow.db").is_file() and not (tmp_path / "mlruns").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # mlflow ui forks workers: stop the whole group
        server.wait(timeout=30)
