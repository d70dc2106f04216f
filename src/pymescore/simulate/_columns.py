"""Building pandas ``str`` columns through Arrow: no Python object per row."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa


def text(values: npt.ArrayLike) -> pd.Series:
    """A pandas ``str`` column from an array of strings."""
    return pd.Series(pd.array(pa.array(np.asarray(values, dtype=object), type=pa.large_string()), dtype="str"))


def text_take(values: npt.ArrayLike, idx: npt.ArrayLike) -> pd.Series:
    """``values[idx]`` as a pandas ``str`` column, gathered in Arrow."""
    base = pa.array(np.asarray(values, dtype=object), type=pa.large_string())
    taken = base.take(pa.array(np.asarray(idx, dtype=np.int64)))
    return pd.Series(pd.array(taken, dtype="str"))
