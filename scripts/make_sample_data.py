"""Regenerate the sample datasets bundled in ``assets/sample_data/`` (the demo workspace).

Deterministic and offline: scikit-learn's bundled loaders (no ``fetch_*``) and numpy with
fixed seeds, so running it again writes byte-identical files. Run from the project root:
``.venv/bin/python scripts/make_sample_data.py``.

The two churn files are one dataset seen a month apart; v2 differs from v1 the way real
data drifts (a new column, more missing values, higher charges, a new payment method), so
validating v2 against v1 has something to say.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "assets" / "sample_data"
CHURN_ROWS = 2_000
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENTS = ["electronic check", "mailed check", "bank transfer", "credit card"]
REGIONS = ["north", "south", "east", "west"]


def _write(frame: Any, name: str) -> Path:
    path = OUT / name
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def _from_bunch(bunch: Any, target: str, labels: list[str] | None) -> Any:
    frame = bunch.frame.copy() if bunch.frame is not None else None
    if frame is None:
        import pandas as pd

        frame = pd.DataFrame(bunch.data, columns=bunch.feature_names)
        frame["target"] = bunch.target
    values = frame.pop("target")
    frame[target] = [labels[int(v)] for v in values] if labels else values
    for name in frame.columns:  # 59.0 -> 59 where a column only holds whole numbers
        column = frame[name]
        if column.dtype.kind == "f" and column.notna().all() and (column % 1 == 0).all():
            frame[name] = column.astype("int64")
    return frame


def wine() -> Any:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    return _from_bunch(bunch, "cultivar", [str(n) for n in bunch.target_names])


def breast_cancer() -> Any:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    return _from_bunch(bunch, "diagnosis", [str(n) for n in bunch.target_names])


def diabetes() -> Any:
    from sklearn.datasets import load_diabetes

    return _from_bunch(load_diabetes(as_frame=True, scaled=False), "disease_progression", None)


def churn(version: int) -> Any:
    """A synthetic customer-churn table; churn depends on contract, tenure, charges, tickets."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2024 + version)
    n = CHURN_ROWS
    v2 = version == 2
    first_id = 1 if not v2 else 1 + CHURN_ROWS
    contract = rng.choice(CONTRACTS, size=n, p=[0.55, 0.25, 0.20])
    tenure = np.where(
        contract == "month-to-month",
        rng.integers(1, 30, n),
        np.where(contract == "one-year", rng.integers(6, 60, n), rng.integers(12, 73, n)),
    )
    charges = rng.normal(62.0, 20.0, n) * (1.2 if v2 else 1.0)
    charges = np.clip(charges, 18.25, 165.0 if v2 else 118.75).round(2)
    total = (tenure * charges * rng.normal(1.0, 0.04, n)).round(2)
    payment_p = [0.32, 0.20, 0.24, 0.24] if not v2 else [0.28, 0.16, 0.22, 0.22, 0.12]
    methods = PAYMENTS + (["digital wallet"] if v2 else [])
    payment = rng.choice(methods, size=n, p=payment_p).astype(object)
    tickets = rng.poisson(np.where(contract == "month-to-month", 1.6, 0.8))
    region = rng.choice(REGIONS, size=n, p=[0.3, 0.25, 0.25, 0.2])
    score = (
        -1.2
        + 1.4 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        - 0.035 * tenure
        + 0.018 * (charges - 62.0)
        + 0.35 * tickets
        + 0.5 * (payment == "electronic check")
    )
    columns: dict[str, Any] = {
        "customer_id": [f"C{i:05d}" for i in range(first_id, first_id + n)],
        "tenure_months": tenure,
        "monthly_charges": charges,
        "total_charges": total,
        "contract": contract,
        "payment_method": payment,
        "support_tickets": tickets,
        "region": region,
    }
    if v2:
        tutorials = rng.gamma(1.5, 22.0, n).round(1)
        score = score - 0.02 * tutorials
        columns["time_spent_on_video_tutorials"] = tutorials
    churned = rng.random(n) < 1.0 / (1.0 + np.exp(-score))
    columns["churned"] = np.where(churned, "yes", "no")
    frame = pd.DataFrame(columns)
    # blank totals for brand-new customers (as billing systems do), many more in v2
    blank_total = (tenure <= 1) | (rng.random(n) < (0.08 if v2 else 0.0))
    frame.loc[blank_total, "total_charges"] = np.nan
    if v2:
        frame.loc[rng.random(n) < 0.06, "payment_method"] = None
    return frame


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    written = [
        _write(wine(), "wine.csv"),
        _write(breast_cancer(), "breast_cancer.csv"),
        _write(diabetes(), "diabetes.csv"),
        _write(churn(1), "churn_v1.csv"),
        _write(churn(2), "churn_v2.csv"),
    ]
    for path in written:
        print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
