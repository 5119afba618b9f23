"""todoist_sync: a reusable Django app that pushes a project's tasks one way to Todoist.

Distributed as `django-todoist-sync` (the repository's pyproject.toml, `make wheel`).
"""

__version__ = "1.0.0"
