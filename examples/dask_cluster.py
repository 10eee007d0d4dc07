"""Run an evoens search on an existing Dask cluster and print the leaderboard.

Start a cluster (or use one you have), then point this script at its scheduler::

    dask scheduler --port 8786 &
    dask worker tcp://127.0.0.1:8786 --nworkers 2 --nthreads 1 &
    dask worker tcp://127.0.0.1:8786 --nthreads 1 --resources "GPU=1" &   # a GPU machine
    python examples/dask_cluster.py tcp://127.0.0.1:8786
    python examples/dask_cluster.py tcp://127.0.0.1:8786 \\
        --data ../shared/datasets/adult.csv.gz --device auto

Without an address it starts (and closes) a ``LocalCluster`` of ``--n-jobs`` workers.
Every worker needs evoens installed, at the version of this machine.
"""

import argparse
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from evoens import EvoEnsembleClassifier

DATA = Path(__file__).parent / "data" / "phoneme.csv.gz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "scheduler",
        nargs="?",
        default=None,
        help="scheduler address, e.g. tcp://127.0.0.1:8786 (default: a LocalCluster)",
    )
    parser.add_argument(
        "--data",
        default=str(DATA),
        help="binary CSV with a 'target' column (default: bundled phoneme)",
    )
    parser.add_argument("--time-budget", type=float, default=60.0)
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="workers of the LocalCluster when no scheduler is given",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )

    clf = EvoEnsembleClassifier(
        backend="dask",
        scheduler=args.scheduler,
        n_jobs=args.n_jobs,
        device=args.device,
        time_budget=args.time_budget,
        random_state=0,
        verbose=1,
    )
    start = time.time()
    clf.fit(X_train, y_train)
    seconds = time.time() - start

    columns = ["rank", "learner", "score", "status", "wall_time", "ensemble_weight", "error"]
    with pd.option_context("display.width", 160, "display.max_colwidth", 50):
        print(clf.leaderboard_[columns].head(15).to_string(index=False))
    print(
        f"\n{clf.n_evaluations_} pipelines in {seconds:.1f} s; statuses: "
        f"{clf.leaderboard_['status'].value_counts().to_dict()}"
    )
    print(f"test ROC AUC {roc_auc_score(y_test, clf.predict_proba(X_test)[:, 1]):.4f}")


if __name__ == "__main__":
    main()
