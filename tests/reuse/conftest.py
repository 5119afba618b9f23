"""The reuse project's tests run only under its own settings (tests/test_reuse_app.py starts them).

Django's settings are fixed for a whole pytest process and the main suite runs with
`config.settings_test`: there, nothing in this directory is collected.
"""

from __future__ import annotations

import os

REUSE_SETTINGS = "tests.reuse.settings"

if os.environ.get("DJANGO_SETTINGS_MODULE") != REUSE_SETTINGS:
    collect_ignore_glob = ["*"]
