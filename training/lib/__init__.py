"""training/lib/: see docs/layout.md."""
