"""Point-in-time features and labels: one registry, one implementation, batch and online."""

from pymescore.features._build import build_feature_arrays, build_features, clip_to_range, feature_context
from pymescore.features._catalog import BY_NAME, FEATURE_NAMES, FEATURES
from pymescore.features._config import DEFINITIONS, FeatureConfig
from pymescore.features._context import Context
from pymescore.features._labels import build_labels, known_outcomes
from pymescore.features._registry import GROUP_TITLES, Feature, registry_hash


def compile_feature_kernels() -> None:
    """Compile the builders' numba kernels now (a service's load time), not in the first request."""
    from pymescore.features._fused import compile_kernels

    compile_kernels()


__all__ = [
    "BY_NAME",
    "DEFINITIONS",
    "FEATURES",
    "FEATURE_NAMES",
    "GROUP_TITLES",
    "Context",
    "Feature",
    "FeatureConfig",
    "build_feature_arrays",
    "build_features",
    "build_labels",
    "clip_to_range",
    "compile_feature_kernels",
    "feature_context",
    "known_outcomes",
    "registry_hash",
]
