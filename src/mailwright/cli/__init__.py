"""The `mailwright` command line."""

from mailwright.cli.app import app


def main() -> None:
    """Entry point of the `mailwright` script."""
    app()
