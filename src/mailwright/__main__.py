"""`python -m mailwright` runs the CLI."""

from mailwright.cli import main

main()
