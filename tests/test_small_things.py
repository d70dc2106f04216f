"""Issue 17, item 12: the small things (Spanish card summary, typing table, CIIU names, importance labels,
HTML catalog, recalibration warning)."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from pymescore.decision import current_policy

#: phrases of the English card and of the English default definitions that a Spanish summary must not hold
_ENGLISH = (
    "A firm defaults",
    "the firm's SBS rating",
    "instalment",
    "past due",
    "Fairness",
    "out_of_time",
    "holdout",
    "the target column",
    " the ",
    " and ",
    " of ",
    " with ",
)


def _report(test_kind: str) -> dict[str, Any]:
    return {"target": "default_12m", "rows": {"development": 900, "test": 300}, "test_kind": test_kind,
            "cv": {"mean_auc": 0.75}}  # fmt: skip


@pytest.mark.parametrize("kind", ["out_of_time", "holdout", "grouped_holdout"])
@pytest.mark.parametrize("definition", ["sim", "sbs", "basel", "free", ""])
def test_the_cards_spanish_summary_has_no_english_sentence(kind: str, definition: str) -> None:
    from pymescore.features._config import DEFINITIONS
    from pymescore.model_card import _card_summary_es
    from pymescore.simulate import DEFAULT_DEFINITION

    text = {"sim": DEFAULT_DEFINITION, "free": "Ninety days past due on any loan of the firm.", "": "",
            **DEFINITIONS}[definition]  # fmt: skip
    metrics = {"default_definition": text, "observation_dates": {"development": ["2023-12-31"], "test": ["2024-12-31"]},
               "fairness_gaps": {"macroregion": {"auc_gap": 0.1}}}  # fmt: skip
    test = {"auc": 0.74, "ks": 0.4, "ece": 0.02, "mean_pd": 0.05, "positive_rate": 0.06}
    lines = _card_summary_es(SimpleNamespace(report=_report(kind)), test, metrics, current_policy())  # type: ignore[arg-type]
    summary = "\n".join(lines)
    found = [p for p in _ENGLISH if p in summary]
    assert not found, summary
    assert "default_12m" in summary
    assert "Equidad" in summary


def _rendered(tmp_path: Any, **overrides: Any) -> str:
    from pymescore.evaluate import render_report
    from tests.test_evaluate import _report_data

    return render_report(_report_data(n=1500, **overrides), tmp_path / "r.html").read_text(encoding="utf-8")


def _cells(html: str, section: str) -> list[str]:
    part = html.split(f'<h2 id="{section}">', 1)[1].split("<h2 ", 1)[0]
    return re.findall(r"<td>(.*?)</td>", part, flags=re.S)


def test_the_typing_table_shows_categories_and_no_empty_list(tmp_path: Any) -> None:
    import pandas as pd

    from pymescore.model._typing import ColumnType

    rows = [ColumnType("sales", "numeric", "numeric dtype").to_dict(),
            ColumnType("sector", "category", "text with 3 values: native categories", categories=("A", "C", "G"))
            .to_dict()]  # fmt: skip
    rows = json.loads(json.dumps(rows))  # as metrics.json holds them: categories as lists
    cells = _cells(_rendered(tmp_path, typing=pd.DataFrame(rows)), "typing")
    assert "[]" not in cells
    assert "A, C, G" in cells
    only_numeric = _rendered(tmp_path, typing=pd.DataFrame(rows[:1]))
    assert "[]" not in _cells(only_numeric, "typing")
    assert "Categorías / categories" not in only_numeric.split('<h2 id="typing">', 1)[1]


def test_every_ciiu_section_has_its_spanish_name() -> None:
    from pymescore.contracts._reference import ciiu_section_label, ciiu_sections

    assert sorted(ciiu_sections()) == [chr(c) for c in range(ord("A"), ord("U") + 1)]
    assert ciiu_section_label("G").startswith("G — Comercio al por mayor y al por menor")
    assert ciiu_section_label("g", "en").startswith("G — Wholesale and retail trade")
    assert ciiu_section_label("G", width=20) == "G — Comercio al por…"
    assert ciiu_section_label("Desconocido") == "Desconocido"


def test_a_sector_input_is_shown_with_its_section_name() -> None:
    from pymescore.features._plain import label_name

    assert label_name("ciiu_section", "G", "es").startswith("G — Comercio al por mayor y al por menor")
    assert label_name("ciiu_section", "C", "en") == "C — Manufacturing"


def test_the_reports_sector_slice_names_each_section(tmp_path: Any) -> None:
    import numpy as np
    import pandas as pd

    from pymescore.evaluate import sme_slices

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"ciiu_section": rng.choice(np.array(["G", "C", "A"], dtype=object), size=1500)})
    cells = _cells(_rendered(tmp_path, slices=sme_slices(frame)), "fairness")
    assert any(c.startswith("G — Comercio al por mayor y al por menor") for c in cells), cells[:12]
    assert "G" not in cells


def test_the_importance_chart_labels_features_by_their_description() -> None:
    import numpy as np
    import pandas as pd

    from pymescore.evaluate._plots import importance_labels
    from pymescore.features import BY_NAME
    from pymescore.reporting import importance_frame

    points = pd.DataFrame({"income_mean_3m": [3.0, -3.0], "my_column": [1.0, 0.0], "roa": [np.nan, 0.0]}).fillna(0)
    frame = importance_frame(points, {"my_column": "numeric"}, snapshot=True)
    labels = importance_labels(frame)
    assert labels[:2] == [BY_NAME["income_mean_3m"].description_es, "my_column"]
    assert not any(label in BY_NAME for label in labels)  # never a registry feature's raw name
    assert all(len(label) <= 60 for label in labels)
    assert "Income: monthly mean" in frame.iloc[0]["description"]
    generic = importance_frame(points, {}, snapshot=False)
    assert importance_labels(generic)[0] == "income_mean_3m"  # a generic table has no registry: names stay


def test_the_html_catalog_shows_real_ranges() -> None:
    import subprocess
    import sys

    from pymescore.features import FEATURES

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pymescore", *args], capture_output=True, text=True)

    result = cli("features", "catalog", "--format", "html")
    assert result.returncode == 0, result.stderr
    html = result.stdout
    assert html.startswith("<!DOCTYPE html>")
    assert "∞" not in html
    assert html.count("<tr><td><code>") == len(FEATURES)
    assert [f for f in FEATURES if None in f.valid_range]  # the catalog has open ranges to word
    assert "sin límite" in html
    assert "open above" in html or "open below" in html
    bad = cli("features", "catalog", "--format", "pdf")
    assert bad.returncode == 2
    assert "expected md, html or json" in bad.stderr


def test_a_champion_whose_card_asks_for_recalibration_is_warned_about() -> None:
    from pymescore.model_card import RECALIBRATION_TOLERANCE, recalibration_warning

    off = {"mean_pd": 0.042, "positive_rate": 0.05}  # -16% calibration in the large, as in the demo
    text = recalibration_warning(off, "champion")
    assert text is not None
    assert "champion" in text
    assert "-16%" in text
    assert "4.20%" in text
    assert f"±{RECALIBRATION_TOLERANCE:.0%}" in text
    assert recalibration_warning(off) is not None  # trained, not promoted: still said
    assert recalibration_warning({"mean_pd": 0.052, "positive_rate": 0.05}, "champion") is None  # +4%: within
    assert recalibration_warning(None, "champion") is None
    assert recalibration_warning({"mean_pd": 0.05, "positive_rate": 0.0}, "champion") is None


def test_the_train_command_prints_the_recalibration_warning() -> None:
    """The CLI path the demo runs (train --register --alias champion) prints the warning in yellow."""
    import inspect

    from pymescore.cli import _train

    source = inspect.getsource(_train.train_command)
    assert "recalibration_warning(test, alias if register else None)" in source
    assert 'style="yellow"' in source
