"""The model families, as one declarative table: what each is, which extra it needs, whether it is built yet.

Every family is fitted on the same grouped folds (with the same out-of-time embargo), gives out-of-fold margins
(log-odds) to the blend, is calibrated and scaled to points through the blend, and explains itself by
contributions that add up to its margin: TreeSHAP for the tree families, additive terms for the linear ones,
Integrated Gradients for the networks (up to a quadrature error that training measures and the model card
reports). The trainer, the bundle and the service walk this table; a new family is a row here plus its fit /
margin / contributions module.

A family whose library is missing is refused with the extra to install (``pip install 'pymescore[lightgbm]'``),
never with an ImportError's traceback.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

from pymescore.errors import ConfigError, PymescoreError


class MissingExtraError(PymescoreError):
    """A family (of a training run, or of a bundle being loaded) needs a library that is not installed."""

    code = "EXTRA_MISSING"


@dataclass(frozen=True)
class Family:
    name: str
    #: tree (TreeSHAP reasons), additive (exact terms), network (Integrated Gradients)
    kind: Literal["tree", "additive", "network"]
    #: the Python module it needs and the pymescore extra that installs it (None: a core dependency)
    module: str
    extra: str | None
    #: built in this version; a family named but not built is refused with ``pending``
    built: bool = True
    pending: str = ""
    #: the file a bundle stores it in (JSON families live in model.json)
    file: str | None = None
    label: str = ""
    #: scoring needs ``module`` too (a booster, a network); False: scored from JSON with the core libraries
    scores_with_module: bool = True
    #: in the default set when installed (``default_families``)
    default: bool = True


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("xgboost", "tree", "xgboost", None, file="booster.ubj", label="XGBoost (tuned)"),
        Family("lightgbm", "tree", "lightgbm", "lightgbm", file="lightgbm.txt", label="LightGBM"),
        Family("scorecard", "additive", "optbinning", "train", label="binned logistic scorecard",
               scores_with_module=False),
        Family("logistic", "additive", "sklearn", None, label="logistic regression", scores_with_module=False),
        Family("tf_mlp", "network", "tensorflow", "tf", file="tf_mlp.keras", label="TensorFlow MLP", default=False),
        Family("tf_sequence", "network", "tensorflow", "tf", file="tf_sequence.keras",
               label="TensorFlow sequence model", default=False),
    )
}  # fmt: skip

#: the order of every weight and margin tuple of the blend (the built families)
BLEND_ORDER: tuple[str, ...] = tuple(name for name, f in FAMILIES.items() if f.built)


def installed(name: str) -> bool:
    """Whether the library family ``name`` needs can be imported (without importing it)."""
    return importlib.util.find_spec(FAMILIES[name].module) is not None


def install_hint(name: str) -> str:
    extra = FAMILIES[name].extra
    return f"pip install 'pymescore[{extra}]'" if extra else "reinstall pymescore"


def require(name: str, where: str = "", *, scoring: bool = False) -> Family:
    """The family ``name``, refused (with what to install) when it is unknown, not built or not installed (to
    fit it; with ``scoring``, to score it: the JSON families need no extra then)."""
    family = FAMILIES.get(name)
    if family is None:
        raise ConfigError(f"--families (families): expected some of {', '.join(FAMILIES)}, got {name!r}",
                          parameter="families")  # fmt: skip
    if not family.built:
        raise MissingExtraError(
            f"{where}family {name}: {family.pending}; it will need the extra {family.extra} "
            f"(pip install 'pymescore[{family.extra}]') / la familia {name} aún no está disponible",
            extra=family.extra,
            family=name,
        )
    if (family.scores_with_module or not scoring) and not installed(name):
        raise MissingExtraError(
            f"{where}family {name} needs the Python package {family.module}, which is not installed: "
            f"{install_hint(name)} / la familia {name} necesita el extra {family.extra}",
            extra=family.extra,
            family=name,
        )
    return family


def default_families() -> tuple[tuple[str, ...], str]:
    """The families a training run uses when none are named, and why: every built tree and additive family whose
    library is installed. They all fit the time budget: the untuned families (LightGBM, scorecard, logistic) are
    fitted first and XGBoost's tuning takes what the budget leaves after them. The networks are named with
    ``--families`` (docs/model-families.md: what they cost and gave on the simulated population)."""
    chosen = tuple(name for name in BLEND_ORDER if FAMILIES[name].default and installed(name))
    left = [f"{name} (not installed: {install_hint(name)})" for name in BLEND_ORDER
            if FAMILIES[name].default and name not in chosen]  # fmt: skip
    why = (
        "default: every built tree and additive family whose library is installed; the untuned ones (LightGBM, "
        "scorecard, logistic) are fitted first and XGBoost's tuning takes what --time-budget leaves after them; "
        "the TensorFlow families only when named (--families)"
    )
    return chosen, why + (f"; left out: {', '.join(left)}" if left else "")


def resolve(names: tuple[str, ...] | None) -> tuple[tuple[str, ...], str]:
    """The families to train (in blend order) and why: the named ones, each checked, or the default set."""
    if names is None:
        return default_families()
    for name in names:
        require(name)
    return tuple(n for n in BLEND_ORDER if n in names), "named by --families"
