"""The built wheel serves: installed into a fresh virtual environment with its
dependencies pinned by the lock file, away from the source tree, `gridflow serve`
answers /healthz and serves the console."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "dev.lock"


def run(*cmd: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{cmd}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.wheel
@pytest.mark.timeout(1200)
def test_the_installed_wheel_serves_the_console(tmp_path: Path) -> None:
    dist, venv, home = tmp_path / "dist", tmp_path / "venv", tmp_path / "home"
    home.mkdir()
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, ROOT, cwd=home)
    [wheel] = dist.glob("gridflow-*.whl")
    run(sys.executable, "-m", "venv", venv, cwd=home)
    run(venv / "bin" / "pip", "install", "--quiet", "-c", LOCK, wheel, cwd=home)

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDFLOW_", "PYTHON"))}
    env["GRIDFLOW_DATABASE_URL"] = f"sqlite:///{home}/gridflow.db"
    proc = subprocess.Popen(
        [venv / "bin" / "gridflow", "serve", "--port", str(port), "--no-demo"],
        cwd=home,  # not the source tree: only the installed package can be imported
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert proc.poll() is None, f"gridflow serve exited:\n{proc.stderr.read()[-3000:]}"
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        page = httpx.get(base + "/console")
        assert page.status_code == 200 and "<html" in page.text.lower()
        for asset in ("app.js", "i18n.js", "style.css"):
            assert httpx.get(f"{base}/console/static/{asset}").status_code == 200, asset
    finally:
        proc.terminate()
        proc.wait(20)
