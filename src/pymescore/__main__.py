"""``python -m pymescore`` runs the CLI."""

from pymescore.cli import main

main()
