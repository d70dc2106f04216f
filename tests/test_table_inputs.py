"""Training input errors named by line and column (issue 17, item 10)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from pymescore.errors import ConfigError, SourceUnreadableError
from pymescore.model import TrainConfig
from pymescore.model._data import column_list, prepare
from pymescore.tables import read_table


def test_a_row_with_an_extra_or_a_missing_field_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "credit.csv"
    path.write_text("a,b,target\n1,2,1\n3,4,0,9\n5,6\n7,8,1\n\n")
    with pytest.raises(SourceUnreadableError) as err:
        read_table(path)
    message = err.value.message
    assert "expected 3 fields on every line" in message
    assert "line 3 (4)" in message  # the extra field
    assert "line 4 (2)" in message  # too few: it would have read as an empty target
    assert "separated" not in message  # no advice about ';' separators, which does not apply


def test_quoted_separators_and_gzip_are_read_and_every_bad_line_counted(tmp_path: Path) -> None:
    good = tmp_path / "quoted.csv.gz"
    with gzip.open(good, "wt") as f:
        f.write('name,amount,target\n"Pérez, Juan",10,1\n"a\nb",20,0\n')
    frame = read_table(good)
    assert frame["name"].tolist() == ["Pérez, Juan", "a\nb"]
    bad = tmp_path / "many.csv"
    bad.write_text("x,y\n" + "".join("1,2,3\n" for _ in range(15)))
    with pytest.raises(SourceUnreadableError, match="and 5 more"):
        read_table(bad)


def test_a_semicolon_export_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("a;b;target\n1;2;1\n3;4;0\n")
    with pytest.raises(SourceUnreadableError, match="';'-separated"):
        read_table(path)


def test_a_wrong_target_lists_every_column_and_suggests_the_closest() -> None:
    columns = [f"col_{k}" for k in range(30)] + ["default_flag"]
    frame = pd.DataFrame([[0] * len(columns)], columns=columns)
    with pytest.raises(ConfigError) as err:
        prepare(frame, TrainConfig(target="default_flg"))
    message = err.value.message
    assert "col_29" in message  # all columns, not the first 15
    assert "did you mean 'default_flag'" in message
    assert "did you mean 'Target'" in column_list(["Target", "x"], ["target"])
    many = column_list([f"c{k}" for k in range(100)], ["zzz"])
    assert "(100 in all)" in many
    assert "did you mean" not in many
