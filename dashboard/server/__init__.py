"""dashboard/server/: see docs/layout.md."""
