"""The `m3w` subcommands other than build: stats, inspect and demo."""
