"""Train a support vector classifier on the cleaned iris CSV and save it.

Under runner the arguments come from train.yaml (`script:` + `args:`).
By hand, from example-project/, after prep:
`python src/train_iris.py --kernel rbf --penalty 0.5` (reads and writes outputs/).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import joblib
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from runner import tracking


def load(path: Path) -> tuple[list[list[float]], list[str]]:
    """Features and species from the CSV that prep wrote."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = [[float(v) for k, v in row.items() if k != "species"] for row in rows]
    return features, [row["species"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", default="linear", choices=["linear", "poly", "rbf", "sigmoid"])
    parser.add_argument("--penalty", type=float, default=1.0, help="the regularisation parameter C")
    parser.add_argument("--data", type=Path, default=Path("outputs") / "iris.csv")
    args = parser.parse_args()

    features, species = load(args.data)
    x_train, x_test, y_train, y_test = train_test_split(
        features, species, test_size=0.3, random_state=3, stratify=species)
    tracking.log_params({"kernel": args.kernel, "penalty": args.penalty,
                         "train_rows": len(x_train), "test_rows": len(x_test)})

    model = SVC(kernel=args.kernel, C=args.penalty).fit(x_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(x_test))
    tracking.log("accuracy", accuracy)

    out = Path("outputs")
    out.mkdir(exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    print(f"accuracy {accuracy:.3f}; model saved to {out / 'model.joblib'}")


if __name__ == "__main__":
    main()
