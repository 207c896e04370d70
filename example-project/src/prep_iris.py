"""Clean the raw iris CSV: drop incomplete rows, normalise the column names.

Under runner: `python prep_iris.py --raw ${{inputs.raw}} --out ${{outputs}}/iris.csv`.
By hand, from example-project/: `python src/prep_iris.py` (writes outputs/iris.csv).
Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections.abc import Iterator
from pathlib import Path

from runner import tracking

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
HEADER = [*FEATURES, "species"]


def normalise(name: str) -> str:
    """'sepal length (cm)' -> 'sepal_length' (units dropped: every length is in cm)."""
    name = re.sub(r"\(.*?\)", "", name).strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def clean_rows(reader: Iterator[list[str]]) -> tuple[list[list[str]], int]:
    """Rows in HEADER order with numeric features and a species; and how many were dropped."""
    header = [normalise(h) for h in next(reader)]
    order = [header.index(column) for column in HEADER]
    kept, dropped = [], 0
    for row in reader:
        values = [row[i].strip() if i < len(row) else "" for i in order]
        if all(values) and all(_is_number(v) for v in values[:-1]):
            kept.append([*values[:-1], values[-1].lower()])
        else:
            dropped += 1
    return kept, dropped


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path(__file__).parent.parent / "data" / "iris.csv")
    parser.add_argument("--out", type=Path, default=Path("outputs") / "iris.csv")
    args = parser.parse_args()
    with args.raw.open(newline="") as handle:
        rows, dropped = clean_rows(csv.reader(handle))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
    tracking.log("rows", len(rows))
    tracking.log("rows_dropped", dropped)
    print(f"wrote {len(rows)} rows to {args.out} ({dropped} dropped)")


if __name__ == "__main__":
    main()
