"""A second Django project that uses todoist_sync with its own task model."""
