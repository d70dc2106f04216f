from pathlib import Path

import pytest

from pymescore.config import Settings


def test_env_overrides_toml_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().equity_tolerance == 0.01
    (tmp_path / "pymescore.toml").write_text('equity_tolerance = 0.05\nlake = "data/lake"\n')
    assert Settings().equity_tolerance == 0.05
    assert Settings().lake == Path("data/lake")
    monkeypatch.setenv("PYMESCORE_EQUITY_TOLERANCE", "0.02")
    assert Settings().equity_tolerance == 0.02


def test_invalid_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYMESCORE_EQUITY_TOLERANCE", "2")
    with pytest.raises(ValueError, match="equity_tolerance"):
        Settings()
