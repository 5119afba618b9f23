"""todoist_sync in another project: tests/reuse, run in its own pytest process.

Django's settings are fixed for a process and this suite runs with planner's; the reuse project
(the `todo` app's `Todo` as TODOIST_SYNC_TASK_MODEL, no planner) needs its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REUSE_SETTINGS = "tests.reuse.settings"
# tests/reuse/test_reuse.py: update this when tests are added there.
EXPECTED = {"passed": 23}
OUTCOMES = {"passed", "failed", "errors", "error", "skipped", "xfailed", "xpassed", "deselected"}


def test_reuse_project_suite_passes():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": REUSE_SETTINGS,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "pytest", "tests/reuse", "-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        [*command, "--ds", REUSE_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    summary = result.stdout.strip().splitlines()[-1]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", summary) if kind in OUTCOMES}
    assert counts == EXPECTED, output
