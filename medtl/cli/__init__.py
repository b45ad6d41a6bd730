"""Thin command-line layer: each subcommand parses arguments and calls one library function."""
