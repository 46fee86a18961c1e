"""The two converters a fitted preprocessing pipeline references by module path.

They live here, in the package that travels into serving images, because a pickled
scikit-learn Pipeline stores `pipelines.serving.converters.as_text` by name: moving or
renaming them breaks every stored model (bundles written before this package existed
are remapped on load, see `bundle.LEGACY_MODULES`)."""

from __future__ import annotations

from typing import Any


def as_text(frame: Any) -> Any:
    """Categorical values as plain strings with NaN for every kind of missing (None, NaN,
    pd.NA), so imputer and encoder see one type per column whatever dtype arrives."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(frame)
    out = {}
    for name in frame.columns:
        column = frame[name]
        text = column.astype("object").astype(str).to_numpy(dtype=object)
        text[column.isna().to_numpy()] = np.nan
        out[name] = text
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def as_seconds(frame: Any) -> Any:
    """Datetimes as seconds since 1970-01-01 UTC (naive ones taken as UTC), durations as
    seconds; unparseable values become NaN and are imputed like missing numbers."""
    import pandas as pd

    frame = pd.DataFrame(frame)
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_timedelta64_dtype(column.dtype):
            out[name] = column / pd.Timedelta(seconds=1)
            continue
        if not pd.api.types.is_datetime64_any_dtype(column.dtype):
            column = pd.to_datetime(column, errors="coerce", utc=True, format="mixed")
        elif column.dt.tz is None:
            column = column.dt.tz_localize("UTC")
        out[name] = (column - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return pd.DataFrame(out, index=frame.index, columns=frame.columns).astype(float)
