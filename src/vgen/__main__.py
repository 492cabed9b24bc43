"""`python -m vgen` runs the CLI."""

from vgen.cli import main

main()
