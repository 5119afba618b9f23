"""The test suite: a package, so its shared helpers (factories, e2e_helpers, reliability_helpers)
are imported by their full name."""
