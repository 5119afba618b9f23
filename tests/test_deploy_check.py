"""With the production values the README lists, `manage.py check --deploy` reports nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "false",
    "SECRET_KEY": "k3v9Zr-not-a-real-secret-but-long-and-random-enough-8Qw2Lp7Xy4Tn6Bm1Cd5",
    "ALLOWED_HOSTS": "planner.example.com",
    "TODOIST_API_TOKEN": "",
    "TODOIST_TOKEN_ENCRYPTION_KEYS": "Dq1mUo8Jc2Vx0vR8Qm3Xq6a0y3qk2mM5Zl7f0H1tq7w=",
}


def run_check(extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TODOIST_", "SECURE_"))}
    env.update(PRODUCTION | extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_values():
    result = run_check({})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_complains_with_debug_on():
    result = run_check({"DEBUG": "true"})
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_check_deploy_warns_about_a_short_passphrase_for_todoist_tokens():
    result = run_check({"TODOIST_TOKEN_ENCRYPTION_KEYS": "", "TODOIST_TOKEN_ENCRYPTION_KEY": "pw"})
    assert result.returncode != 0
    assert "todoist_sync.W012" in result.stdout + result.stderr


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    result = run_check({"SECRET_KEY": ""})
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
