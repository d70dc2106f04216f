"""The last stages of training: each family the blend weighs fitted once more on the development rows, the
fitted model they make, and that model's scores of the test rows (``_train``)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from pymescore.model import _lgbm, _xgb
from pymescore.model._blend import add_test_aucs, auc
from pymescore.model._calibration import Calibrator
from pymescore.model._config import TrainConfig
from pymescore.model._data import Prepared
from pymescore.model._development import Development, Progress
from pymescore.model._domain import Domain
from pymescore.model._fitted import FeatureInfo, FittedModel
from pymescore.model._lgbm import as_array
from pymescore.model._linear import Linear
from pymescore.model._preprocess import Preprocessor
from pymescore.model._scale import score_from_pd
from pymescore.model._scorecard import Scorecard
from pymescore.model._tf_net import TfNetwork
from pymescore.model._typing import ColumnType


class FinalFits(NamedTuple):
    """The final fit: each family with a blend weight above 0 (None: not weighed), on the final rows."""

    pre: Preprocessor  # fitted on the final rows
    X_fit: pd.DataFrame  # the final rows, preprocessed by ``pre``
    booster: Any | None  # an xgboost.Booster
    lightgbm: Any | None  # a lightgbm.Booster
    scorecard: Scorecard | None
    linear: Linear | None
    tf_mlp: TfNetwork | None
    tf_sequence: TfNetwork | None

    def margins(self, M: pd.DataFrame, sequences: np.ndarray | None) -> dict[str, np.ndarray | None]:
        """Each family's own margins of the preprocessed rows ``M`` (None where it was not fitted)."""
        return {
            "xgboost": None if self.booster is None else _xgb.margin(self.booster, M),
            "lightgbm": None if self.lightgbm is None else _lgbm.margin(self.lightgbm, M),
            "scorecard": None if self.scorecard is None else self.scorecard.margin(M),
            "logistic": None if self.linear is None else self.linear.margin(M),
            "tf_mlp": None if self.tf_mlp is None else self.tf_mlp.margin(as_array(M)),
            "tf_sequence": None if self.tf_sequence is None else self.tf_sequence.margin(as_array(M), sequences),
        }


def final_fit(
    d: Development, w: dict[str, float], sample: np.ndarray | None, timings: dict[str, float], say: Progress
) -> FinalFits:
    """Each family that ``w`` (the blend weights, by family) weighs, fitted on the final rows; ``sample`` (on a
    cluster): the positions among them the families other than XGBoost and the networks fit on, else None."""
    cfg, model_mono = d.cfg, d.monotone
    t = time.perf_counter()
    say("final fit on the development rows")
    pre = Preprocessor(d.types, cfg.seed)
    final_rows = d.final_rows
    X_final, y_final = (d.X, d.y) if not d.augmented else (d.X.iloc[final_rows], d.y[final_rows])
    w_final = None if d.weight is None else d.weight[final_rows]
    X_fit = pre.fit_transform(X_final, y_final, w_final)
    final_booster = d.boosting.fit(X_fit, y_final, final_rows) if w["xgboost"] > 0 else None
    # on a cluster the other families fit on the stratified sample of the final rows
    X_small, y_small = (X_fit.iloc[sample], y_final[sample]) if sample is not None else (X_fit, y_final)
    w_small = None if w_final is None else (w_final[sample] if sample is not None else w_final)
    final_lgbm = (_lgbm.fit_booster(X_small, y_small, model_mono, cfg.seed, cfg.n_jobs, weight=w_small)
                  if w["lightgbm"] > 0 else None)  # fmt: skip
    scorecard = Scorecard().fit(X_small, y_small, model_mono, cfg.seed, w_small) if w["scorecard"] > 0 else None
    linear = Linear().fit(X_small, y_small, model_mono, cfg.seed, w_small) if w["logistic"] > 0 else None
    # the networks: every development row (reject inference does not reach them: ``train`` refuses it)
    final_net = d.fit_network(X_fit, y_final, final_rows, False, explain=True) if w["tf_mlp"] > 0 else None
    final_seq = d.fit_network(X_fit, y_final, final_rows, True, explain=True) if w["tf_sequence"] > 0 else None
    timings["final_fit"] = time.perf_counter() - t
    return FinalFits(pre, X_fit, final_booster, final_lgbm, scorecard, linear, final_net, final_seq)


def _features(types: list[ColumnType], monotone: dict[str, int], domain: Domain | None) -> list[FeatureInfo]:
    """The fitted model's feature list; reason texts from the domain where it has them."""
    reasons = domain.reasons if domain is not None else {}
    out = []
    for ct in types:
        es, en = reasons.get(ct.column, ("", ""))
        out.append(FeatureInfo(ct.column, ct.kind, int(monotone.get(ct.column, 0)), es, en))
    return out


def _features_of(columns: list[str], domain: Domain | None) -> list[FeatureInfo]:
    """The histories' channels as the reasons name them (the domain's texts)."""
    reasons = domain.reasons if domain is not None else {}
    return [FeatureInfo(c, "history", 0, *reasons.get(c, (c, c))) for c in columns]


def fitted_model(
    fits: FinalFits,
    w: dict[str, float],
    calibrator: Calibrator,
    cfg: TrainConfig,
    types: list[ColumnType],
    monotone: dict[str, int],
    domain: Domain | None,
    metadata: dict[str, Any],
) -> FittedModel:
    """The model the final fits make, blended by ``w`` and calibrated by ``calibrator``; ``types``, ``monotone``
    (directions by source column) and ``domain`` (its reason texts) make its feature list."""
    return FittedModel(
        preprocessor=fits.pre,
        booster=fits.booster,
        scorecard=fits.scorecard,
        weight=w["xgboost"],
        calibrator=calibrator,
        scale=cfg.scale,
        features=_features(types, monotone, domain),
        target=cfg.target,
        positive=cfg.positive,
        metadata=metadata,
        linear=fits.linear,
        linear_weight=w["logistic"],
        lightgbm=fits.lightgbm,
        lightgbm_weight=w["lightgbm"],
        tf_mlp=fits.tf_mlp,
        tf_mlp_weight=w["tf_mlp"],
        tf_sequence=fits.tf_sequence,
        tf_sequence_weight=w["tf_sequence"],
        history_features=[] if fits.tf_sequence is None else _features_of(fits.tf_sequence.channels, domain),
    )


def score_test_rows(
    prep: Prepared, test_mask: np.ndarray, fits: FinalFits, model: FittedModel, candidates: list[dict[str, Any]]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The test rows scored by ``model`` (their source columns with y, pd and score, and ``as_of`` where the
    table has times) and its test metrics; each of ``candidates`` gets its AUC on them (``add_test_aucs``)."""
    cfg = prep.config
    X_test = prep.X.iloc[np.flatnonzero(test_mask)].reset_index(drop=True)
    y_test = prep.y[test_mask]
    M = fits.pre.transform(X_test)
    seq_test = None if prep.sequences is None else prep.sequences[test_mask]
    z_test = model.margin_of(M, sequences=seq_test)
    p_test = model.calibrator.predict(z_test)
    test_frame = X_test.assign(y=y_test, pd=p_test, score=np.rint(score_from_pd(p_test, cfg.scale)).astype(int))
    if prep.times is not None:
        test_frame["as_of"] = prep.times[test_mask]
    test_metrics = {"auc": auc(y_test, p_test), "rows": len(y_test), "positive_rate": float(y_test.mean())}
    add_test_aucs(candidates, y_test, fits.margins(M, seq_test), z_test)
    return test_frame, test_metrics
