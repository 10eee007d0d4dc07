"""Fit an evoens classifier on a real dataset and print the leaderboard and test score.

Run from the repository root::

    python examples/quickstart.py                 # 60 s budget, 2 cores
    python examples/quickstart.py --time-budget 20
"""

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from evoens import EvoEnsembleClassifier

DATA = Path(__file__).parent / "data" / "phoneme.csv.gz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default=str(DATA), help="CSV with a 'target' column (default: bundled phoneme)"
    )
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    clf = EvoEnsembleClassifier(
        time_budget=args.time_budget, n_jobs=args.n_jobs, random_state=0, verbose=1
    )
    start = time.time()
    clf.fit(X_train, y_train)
    fit_seconds = time.time() - start

    columns = [
        "rank",
        "generation",
        "learner",
        "score",
        "status",
        "fit_time",
        "ensemble_weight",
        "pipeline",
    ]
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(clf.leaderboard_[columns].head(15).to_string(index=False))
    proba = clf.predict_proba(X_test)
    print(
        f"\n{clf.n_evaluations_} pipelines evaluated in {fit_seconds:.1f} s "
        f"(budget {args.time_budget:.0f} s); final model: {clf.ensemble_.kind} "
        f"of {len(clf.ensemble_.members)} member(s)"
    )
    print(
        f"test ROC AUC {roc_auc_score(y_test, proba[:, 1]):.4f}, "
        f"accuracy {accuracy_score(y_test, clf.predict(X_test)):.4f}"
    )


if __name__ == "__main__":
    main()
