"""placeholder, replaced by the command module."""

import typer


def register(app: typer.Typer) -> None:
    return None
