"""todoist_sync as another project gets it: its wheel, installed in a fresh virtual environment.

The wheel is built from pyproject.toml and installed, with the dependencies it declares and
nothing else, into a new venv. tests/reuse (the `todo` app's `Todo` as TODOIST_SYNC_TASK_MODEL,
no planner) is copied into a temporary directory and its tests run there, in a pytest process of
their own: the repository is not on sys.path, so a hidden dependency on planner, scripts,
todoist_sim or the repository's layout fails. The Todoist simulator is the reuse tests' stand-in
for Todoist, as `responses` is for others: it is copied beside them as test support, and the
import check below runs without it.

The dependencies come from a wheelhouse that pip downloads once (from PyPI, at the versions
requirements/ pins) and pytest's cache keeps, keyed by what it holds; the venv itself is new in
every run, so each run resolves the wheel's declared dependencies afresh.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path
from xml.etree import ElementTree

import pytest

import todoist_sync

ROOT = Path(__file__).resolve().parent.parent
REUSE_SETTINGS = "tests.reuse.settings"
# What the reuse tests need besides the app; their versions come from requirements/dev.txt.
TEST_REQUIREMENTS = ["pytest", "pytest-django"]
# The top-level modules of the wheel's extras, which the venv does not install: only a module
# that imports one of them may fail to import there.
EXTRA_MODULES = {"prometheus_client": "metrics", "health_check": "health", "tqdm": "progress"}
# Variables that would put the repository (or the running suite's settings) into the venv's runs.
LEAKING_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
LEAKING_ENV += ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]

# Run in the venv from the copied project: import every module of the installed app.
IMPORT_EVERY_MODULE = """
import importlib, pkgutil
import django

django.setup()
import todoist_sync

print(todoist_sync.__file__)
for module in pkgutil.walk_packages(todoist_sync.__path__, "todoist_sync."):
    try:
        importlib.import_module(module.name)
    except ModuleNotFoundError as error:
        print(module.name, error.name)
"""


def run(command: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout=300):
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in LEAKING_ENV}


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


def pins() -> str:
    """requirements/'s pins as a pip constraints file (which takes no extras and no -r)."""
    lines = []
    for name in ("base.txt", "dev.txt"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                lines.append(re.sub(r"\[[^\]]*\]", "", line))
    return "\n".join(lines) + "\n"


def metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return {key: message.get_all(key, []) for key in set(message.keys())}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built by pip from a copy of pyproject.toml and todoist_sync/ (so no build
    output lands in the tree, and nothing else of the repository can reach the wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", source)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "todoist_sync", source / "todoist_sync", ignore=ignore)
    checked(run([*PIP, "wheel", "--no-deps", "--wheel-dir", work / "dist", source], cwd=work))
    [built] = (work / "dist").glob("django_todoist_sync-*.whl")
    return built


@pytest.fixture(scope="module")
def wheelhouse(wheel, request, tmp_path_factory) -> Path:
    """The wheel's dependencies and the test requirements, downloaded once per set."""
    constraints = pins()
    requires = sorted(metadata(wheel)["Requires-Dist"])
    key = hashlib.sha256(
        "\n".join([sys.version, constraints, *requires, *TEST_REQUIREMENTS]).encode()
    ).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    parent = cache.mkdir("reuse-wheelhouse") if cache else tmp_path_factory.mktemp("wheelhouse")
    house = parent / key
    if house.is_dir():
        return house
    partial = Path(tmp_path_factory.mktemp("wheelhouse-download"))
    (partial / "constraints.txt").write_text(constraints)
    download = [*PIP, "download", "--only-binary", ":all:", "-c", "constraints.txt"]
    checked(run([*download, "-d", "wheels", wheel, *TEST_REQUIREMENTS], cwd=partial))
    for own in (partial / "wheels").glob("django_todoist_sync-*"):
        own.unlink()
    try:
        (partial / "wheels").rename(house)  # atomic: a concurrent session keeps its own
    except OSError:
        assert house.is_dir()
    return house


@pytest.fixture
def venv_python(wheel, wheelhouse, tmp_path_factory) -> Path:
    """A new venv holding the wheel, what it declares, and the test requirements: from the
    wheelhouse only, so a dependency the wheel forgets to declare is missing here."""
    target = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    # --no-compile: each module is compiled when first imported, and only those are.
    install = [*PIP, "--python", python, "install", "--no-compile", "--no-index"]
    checked(run([*install, "--find-links", wheelhouse, wheel, *TEST_REQUIREMENTS], cwd=target))
    return python


@pytest.fixture
def project(tmp_path_factory) -> Path:
    """tests/reuse in a directory of its own, as `tests.reuse` (its settings' name); the
    simulator beside it, in `support`."""
    work = tmp_path_factory.mktemp("reuse")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    (work / "project" / "tests").mkdir(parents=True)
    shutil.copy2(ROOT / "tests" / "__init__.py", work / "project" / "tests")
    shutil.copytree(ROOT / "tests" / "reuse", work / "project" / "tests" / "reuse", ignore=ignore)
    shutil.copytree(ROOT / "todoist_sim", work / "support" / "todoist_sim", ignore=ignore)
    return work / "project"


def test_the_wheel_holds_todoist_sync_alone_with_its_migrations(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    info = {name for name in names if name.split("/")[0].endswith(".dist-info")}
    sources = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "todoist_sync").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert names - info == sources
    assert "todoist_sync/migrations/0001_initial.py" in names
    meta = metadata(wheel)
    assert meta["Name"] == ["django-todoist-sync"]
    assert meta["Version"] == [todoist_sync.__version__]
    assert set(meta["Provides-Extra"]) == set(EXTRA_MODULES.values())


def test_the_reuse_project_passes_against_the_installed_wheel(venv_python, project):
    """Every module of the installed app imports without the repository, then every test pytest
    collects in the venv runs there and passes, as pytest's own report (JUnit XML) says: the
    expected set is the collection, not a number kept here. One test, so that pytest-xdist
    builds one venv."""
    assert_imports_nothing_from_the_repository(venv_python, project)

    env = {
        "DJANGO_SETTINGS_MODULE": REUSE_SETTINGS,
        "PYTHONPATH": str(project.parent / "support"),
    }
    pytest_command = [venv_python, "-m", "pytest", "tests/reuse", "-p", "no:cacheprovider"]
    pytest_command += ["--ds", REUSE_SETTINGS]
    collected = checked(run([*pytest_command, "--collect-only", "-q"], cwd=project, env=env))
    expected = {junit_id(line) for line in collected.stdout.splitlines() if "::" in line}
    assert expected, collected.stdout

    report = project.parent / "report.xml"
    result = run([*pytest_command, "-q", f"--junitxml={report}"], cwd=project, env=env, timeout=600)
    output = result.stdout + result.stderr
    cases = ElementTree.parse(report).getroot().iter("testcase")
    outcomes = {(case.get("classname"), case.get("name")): outcome(case) for case in cases}
    assert outcomes == dict.fromkeys(expected, "passed"), output
    assert result.returncode == 0, output


def assert_imports_nothing_from_the_repository(python: Path, project: Path) -> None:
    """Import every module of the installed app in the venv, with the reuse project on the path
    and neither the repository nor the simulator: only the extras' modules may be missing."""
    result = checked(
        run(
            [python, "-c", IMPORT_EVERY_MODULE],
            cwd=project,
            env={"DJANGO_SETTINGS_MODULE": REUSE_SETTINGS},
        )
    )
    location, *failures = result.stdout.splitlines()
    assert Path(location).is_relative_to(python.parent.parent), location
    missing = dict(line.split() for line in failures)
    assert set(missing.values()) <= set(EXTRA_MODULES), missing


def junit_id(nodeid: str) -> tuple[str, str]:
    """`tests/reuse/test_reuse.py::test_x[a]` as JUnit names it: classname and name."""
    path, *scopes, name = nodeid.split("::")
    return ".".join([path.removesuffix(".py").replace("/", "."), *scopes]), name


def outcome(case: ElementTree.Element) -> str:
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            return kind
    return "passed"
