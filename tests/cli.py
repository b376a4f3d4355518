"""Run the real `collbot` entry point in a subprocess, isolated from the caller's COLLBOT__ settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def collbot(*args: str, cwd: Path, database: bool = False, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Log to ``cwd``; with ``database``, use a throwaway SQLite file there too; ``env`` on top."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("COLLBOT__")}
    env["COLLBOT__LOG__FILE"] = str(cwd / "collbot.log")
    if database:
        env["COLLBOT__DATABASE__URL"] = f"sqlite:///{cwd / 'c.db'}"
    env.update(extra)
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
