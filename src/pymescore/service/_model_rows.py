"""Model rows as TensorFlow Serving takes them (``{"instances": [[…], …]}``): one number per model input, in the
order of ``GET /v1/model``'s ``inputs`` (the SavedModel export's ``features.json``), null or NaN for a missing value,
a category as its index in the input's ``categories``. Read as TensorFlow Serving reads them for the export's
float32 ``inputs`` tensor: each number rounded to float32, so that both answer the same figures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)


def model_rows(instances: list[list[float | None]], inputs: list[dict[str, Any]]) -> tuple[np.ndarray, list[Any]]:
    """The float matrix of the rows (float32 values, NaN missing) and the problems found: (path, expected, got)
    triples, every one of them at once."""
    problems: list[tuple[str, str, Any]] = []
    matrix = np.full((len(instances), len(inputs)), np.nan)
    sizes = [None if i["categories"] is None else len(i["categories"]) for i in inputs]
    for r, row in enumerate(instances):
        if len(row) != len(inputs):
            problems.append((f"instances[{r}]", f"a list of {len(inputs)} numbers, the model's inputs in the order "
                             "of GET /v1/model's inputs", f"{len(row)} values"))  # fmt: skip
            continue
        for j, value in enumerate(row):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            name, size = inputs[j]["name"], sizes[j]
            if size is not None and not (float(value).is_integer() and 0 <= value < size):
                problems.append((f"instances[{r}][{j}]", f"{name}: a category's index, an integer in [0, {size}), "
                                 "or null", value))  # fmt: skip
            elif not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                problems.append((f"instances[{r}][{j}]", f"{name}: a finite number within float32 (±{FLOAT32_MAX:.4g})"
                                 " or null", value))  # fmt: skip
            else:
                matrix[r, j] = value
    return matrix.astype(np.float32).astype(np.float64), problems
