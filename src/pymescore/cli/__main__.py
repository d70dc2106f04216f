"""``python -m pymescore.cli``: the same as the ``pymescore`` script."""

from pymescore.cli import main

main()
