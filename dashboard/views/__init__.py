"""dashboard/views/: see docs/layout.md."""
