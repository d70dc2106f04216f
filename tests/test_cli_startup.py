"""``pymescore --help`` answers fast: the command modules import heavy libraries only inside the commands."""

from __future__ import annotations

from bench.cli_startup import HEAVY, loaded_heavy_modules


def test_importing_the_cli_and_registering_every_command_loads_no_heavy_library() -> None:
    loaded = loaded_heavy_modules()  # a fresh process: import pymescore.cli, register every command
    assert loaded == [], f"imported at `pymescore --help` time: {loaded} (import them inside the command)"
    assert {"pandas", "xgboost", "sklearn", "matplotlib", "fastapi", "mlflow"} <= set(HEAVY)
