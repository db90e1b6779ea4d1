"""The `cifake` console command (cifake/__main__.py): one command, a subcommand per task."""
