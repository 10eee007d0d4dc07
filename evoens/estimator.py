"""The scikit-learn estimators: validate input, wire the run, expose the result."""

from __future__ import annotations

import numbers
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import Dataset, TabularEncoder, auto_folds, encode_target, make_folds
from ._metrics import get_metric
from ._run import SearchLimits, quiet_optuna, run_search
from .backends import LocalBackend, SequentialBackend
from .ensemble import EnsembleBuilder
from .evaluation import Status, leaderboard_from_evaluations
from .evaluation._cv import EvalContext
from .exceptions import AllCandidatesFailedError, FailedEvaluationsWarning, InvalidInputError
from .search import Evolution
from .space import load_space

__all__ = ["EvoEnsembleClassifier", "EvoEnsembleRegressor"]

_BACKENDS = ("local", "sequential", "dask")
_DEVICES = ("auto", "cpu", "cuda")


def _check_number(name, value, low, *, integer=False, allow_none=False, inclusive=True):
    if value is None and allow_none:
        return
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and (value >= low if inclusive else value > low)
    if not ok:
        rule = f"{'an int' if integer else 'a number'} {'>=' if inclusive else '>'} {low}"
        raise InvalidInputError(f"{name} must be {rule}{' or None' if allow_none else ''}; got {value!r}")


class _EvoEnsembleBase(BaseEstimator):
    _task_kind = "classification"

    def __init__(
        self,
        *,
        time_budget=60.0,
        generations=None,
        population_size=20,
        scoring=None,
        cv="auto",
        n_jobs=1,
        space="default",
        random_state=None,
        early_stop=None,
        max_eval_time=None,
        refit=False,
        backend="local",
        scheduler=None,
        security=None,
        device="auto",
        memory_limit=None,
        run_dir=None,
        verbose=0,
    ):
        self.time_budget = time_budget
        self.generations = generations
        self.population_size = population_size
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
        self.space = space
        self.random_state = random_state
        self.early_stop = early_stop
        self.max_eval_time = max_eval_time
        self.refit = refit
        self.backend = backend
        self.scheduler = scheduler
        self.security = security
        self.device = device
        self.memory_limit = memory_limit
        self.run_dir = run_dir
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags

    # -- validation ---------------------------------------------------------
    def _validate_params(self):
        _check_number("time_budget", self.time_budget, 0, allow_none=True, inclusive=False)
        _check_number("generations", self.generations, 1, integer=True, allow_none=True)
        if self.time_budget is None and self.generations is None:
            raise InvalidInputError("time_budget and generations are both None: the search would never stop")
        _check_number("population_size", self.population_size, 1, integer=True)
        if not (isinstance(self.cv, str) and self.cv == "auto"):
            if not isinstance(self.cv, numbers.Integral) or isinstance(self.cv, bool) or self.cv < 2:
                raise InvalidInputError(f"cv must be an int >= 2 or 'auto'; got {self.cv!r}")
        _check_number("early_stop", self.early_stop, 1, integer=True, allow_none=True)
        _check_number("max_eval_time", self.max_eval_time, 0, allow_none=True, inclusive=False)
        _check_number("verbose", self.verbose, 0, integer=True)
        if not (isinstance(self.n_jobs, numbers.Integral) and (self.n_jobs >= 1 or self.n_jobs == -1)) \
                or isinstance(self.n_jobs, bool):
            raise InvalidInputError(f"n_jobs must be a positive int or -1 (all cores); got {self.n_jobs!r}")
        if self.backend not in _BACKENDS:
            raise InvalidInputError(f"backend must be one of {_BACKENDS}; got {self.backend!r}")
        if self.device not in _DEVICES:
            raise InvalidInputError(f"device must be one of {_DEVICES}; got {self.device!r}")
        if self.scheduler is not None and self.backend != "dask":
            raise InvalidInputError(f"scheduler={self.scheduler!r} needs backend='dask'; got backend={self.backend!r}")
        if not isinstance(self.refit, bool):
            raise InvalidInputError(f"refit must be True or False; got {self.refit!r}")
        if self.random_state is not None and not isinstance(self.random_state, numbers.Integral):
            raise InvalidInputError(f"random_state must be an int or None; got {self.random_state!r}")

    def _prepare(self, X, y, sample_weight):
        _check_2d(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        self.encoder_ = TabularEncoder().fit(X)
        Xe = self.encoder_.transform(X)
        if y is None:
            raise InvalidInputError("requires y to be passed, but the target y is None")
        y_arr = y if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        if len(y_arr) != Xe.shape[0]:
            raise InvalidInputError(f"X and y have inconsistent numbers of samples: X has {Xe.shape[0]} rows, "
                                    f"y has {len(y_arr)}")
        codes, classes = encode_target(y_arr, "regression" if self._task_kind == "regression" else "classification")
        task = "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).ravel()
            if w.shape[0] != Xe.shape[0]:
                raise InvalidInputError(f"sample_weight has {w.shape[0]} values for {Xe.shape[0]} samples")
            if not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
                raise InvalidInputError("sample_weight must be finite, non-negative and not all zero")
            if classes is not None and len(np.unique(codes[w > 0])) < 2:
                raise InvalidInputError("only 1 class has non-zero sample_weight; a classifier needs at least 2 classes")
        return Xe, codes, classes, task, w

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
        return int(self.random_state) % (2**32)

    def _n_workers(self) -> int:
        return (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)

    def _make_backend(self, client=None):
        if self.backend == "sequential":
            return SequentialBackend()
        if self.backend == "dask" or client is not None:
            from .backends._dask import DaskBackend

            return DaskBackend(self._n_workers(), scheduler=self.scheduler, client=client, security=self.security,
                               memory_limit=self.memory_limit)
        return LocalBackend(self._n_workers())

    def _settings(self, seed) -> dict:
        """What a resumed run must share with the run it continues."""
        return {"estimator": type(self).__name__, "random_state": seed, "cv": self.cv,
                "population_size": self.population_size, "scoring": str(self.scoring),
                "space": str(self.space), "params": {k: repr(v) for k, v in self.get_params().items()}}

    # -- fit ------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, client=None):
        """Search pipelines, then build the ensemble.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric, categorical, string, boolean columns; missing values allowed.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        client : distributed.Client, optional
            Evaluate on this Dask cluster (left running afterwards).  It is a
            ``fit`` argument, not a parameter, so the estimator stays
            clone-able and picklable.

        Returns
        -------
        self
        """
        started = time.time()
        self._validate_params()
        Xe, y_codes, classes, task, w = self._prepare(X, y, sample_weight)
        seed = self._seed()
        data = Dataset(Xe, y_codes, task, self.encoder_.categorical_mask,
                       make_folds(y_codes, task, auto_folds(len(y_codes)) if isinstance(self.cv, str) else self.cv, seed), 0 if classes is None else len(classes), w)
        metric = get_metric(self.scoring, task, classes)
        space = load_space(self.space).for_task(task)
        space = space if w is None else space.for_sample_weight()  # warns naming the learners left out
        ctx = EvalContext(data, metric, space, n_threads=1, device=self.device)  # "auto" resolved on each worker
        end = None if self.time_budget is None else started + float(self.time_budget)
        limits = SearchLimits(self._search_end(started, end), self._eval_time(), self.early_stop)
        journal, replay = self._open_journal(data, seed)
        try:
            with quiet_optuna():
                engine = Evolution(space, task, metric, y_codes, self.population_size, seed, self.generations,
                                   space.default_genomes(task), w, time_bounded=self.time_budget is not None,
                                   categorical=bool(data.categorical_mask.any()),
                                   low_cardinality=bool(data.low_cardinality.any()))
            callbacks = [journal.append] if journal is not None else []
            callbacks += [cb for cb in (self._progress(started),) if cb is not None]
            callbacks.append(_drop_models_outside_pool(EnsembleBuilder(metric)))
            records = self._search(engine, ctx, limits, _chain(callbacks), replay, client)
        finally:
            if journal is not None:
                journal.close()
        self.search_time_ = time.time() - started
        self._finish(records, data, metric, task, classes, seed, end, limits)
        self.fit_time_ = time.time() - started
        if self.verbose:
            print(f"[evoens] search {self.search_time_:.1f}s, fit {self.fit_time_:.1f}s, "
                  f"{self.n_evaluations_} evaluations, stopped on {self.stop_reason_}; "
                  f"ensemble: {self.ensemble_.kind}", file=sys.stderr)
        return self

    def _search(self, engine, ctx, limits, on_result, replay, client):
        backend = self._make_backend(client)
        with quiet_optuna():
            try:
                backend.start(ctx)
                return run_search(engine, backend, limits, on_result, replay)
            finally:
                backend.shutdown()

    def _open_journal(self, data, seed):
        if self.run_dir is None:
            return None, None
        from .journal import RunJournal

        journal = RunJournal.open(self.run_dir, settings=self._settings(seed), fingerprint=data.fingerprint(),
                                  folds=data.folds)
        return journal, journal.load()

    def _search_end(self, started, end):
        if end is None:
            return None
        reserve = min(30.0, max(1.0, 0.07 * (end - started)))
        return end - reserve

    def _eval_time(self):
        if self.max_eval_time is not None:
            return float(self.max_eval_time)
        return None if self.time_budget is None else max(5.0, float(self.time_budget) / 3)

    def _progress(self, started):
        """Per-evaluation progress on stderr: a live status line on a terminal
        (``verbose=1``), else a log line per evaluation; see :mod:`evoens.progress`."""
        from .progress import make_reporter

        return make_reporter(self.verbose, started, self.time_budget)

    def _finish(self, records, data, metric, task, classes, seed, end, limits):
        records = sorted(records, key=lambda e: e.id)
        ok = [e for e in records if e.ok]
        self.stop_reason_ = limits.stop_reason
        if not ok:
            reasons = sorted({(e.status.value, e.error.splitlines()[0] if e.error else "") for e in records})[:5]
            raise AllCandidatesFailedError(f"all {len(records)} evaluated pipelines failed; first reasons: {reasons}")
        errors = [e for e in records if e.status == Status.ERROR]
        if errors:
            warnings.warn(f"{len(errors)} of {len(records)} pipelines failed with an error; "
                          "see leaderboard_ (status, error)", FailedEvaluationsWarning, stacklevel=3)
        deadline = None if end is None else end - 0.5
        builder = EnsembleBuilder(metric, seed=seed)
        self.ensemble_ = builder.build(ok, data.y, data.folds, task, data.n_classes, data.sample_weight, deadline)
        if self.refit:
            self._refit_members(data, end, {e.id: e for e in ok})
        self.task_ = task
        self.scoring_ = metric.name
        if classes is not None:
            self.classes_ = classes
        best = max(ok, key=lambda e: (e.score, -e.id))
        self.best_score_ = best.score
        self.best_pipeline_ = best.genome.describe()
        self.n_evaluations_ = len(records)
        self.leaderboard_ = self._leaderboard(records)

    def _refit_members(self, data, end, records):
        """Refit each member on all rows, under the budget, with the candidate's own seed.

        A member refits only if its expected cost (one fold fit of its
        evaluation, scaled to all rows) fits the time left; it refits under a
        soft deadline (its share of the time left: boosters and forests stop
        growing) and a hard one (the budget).  A member whose refit would not
        finish, or fails, keeps its fold models.  ``refit_`` says which did what.
        """
        from ._deadline import deadline_scope, fold_scope
        from .space import BuildContext, build_pipeline

        build = BuildContext(data.task, tuple(bool(b) for b in data.categorical_mask), self._n_workers(),
                             "cpu" if self.device == "auto" else self.device,
                             tuple(bool(b) for b in data.low_cardinality))
        space = load_space(self.space)
        hard = None if end is None else end - 1.0
        k = len(data.folds)
        self.refit_ = {}
        members = self.ensemble_.members
        for i, member in enumerate(members):
            record = records[member.id]
            expected = record.fit_time / max(1, len(record.fold_scores)) * k / max(1, k - 1)
            left = float("inf") if hard is None else hard - time.time()
            if expected > left:
                self.refit_[member.id] = f"kept fold models: refit expected {expected:.1f}s, {max(0, left):.1f}s left"
                continue
            soft = None if hard is None else time.time() + 0.85 * left / (len(members) - i)
            pipe = build_pipeline(member.genome, space.learner_class(member.genome.learner), build, member.seed,
                                  len(data.y))
            params = {} if data.sample_weight is None else {"learner__sample_weight": data.sample_weight}
            try:
                with deadline_scope(hard), fold_scope(soft), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pipe.fit(data.X, data.y, **params)
            except Exception as exc:  # a refit that cannot finish (or fails) leaves the fold models in place
                self.refit_[member.id] = f"kept fold models: {type(exc).__name__}: {exc}"[:300]
                continue
            member.models = [pipe]
            member.predict_per_1k /= k  # one model where there were k
            self.refit_[member.id] = "refit on all rows"

    def _leaderboard(self, records) -> pd.DataFrame:
        return leaderboard_from_evaluations(records, {m.id: m.weight for m in self.ensemble_.members})

    # -- predict ----------------------------------------------------------------
    def _predict_raw(self, X):
        check_is_fitted(self, "ensemble_")
        _check_2d(X)
        try:
            validate_data(self, X, reset=False, skip_check_array=True)
        except ValueError as exc:
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is None or not hasattr(X, "columns") or sorted(map(str, X.columns)) != sorted(fitted):
                raise
            raise InvalidInputError(f"{exc}Reorder the columns as at fit: X[model.feature_names_in_]") from exc
        # columns by position, as scikit-learn; n_jobs threads, one per fold model at a time
        return self.ensemble_.predict(self.encoder_.transform(X), n_jobs=self._n_workers())


def _check_2d(X):
    if not hasattr(X, "columns") and not hasattr(X, "toarray") and np.asarray(X).ndim != 2:
        raise InvalidInputError(
            f"Expected a 2-dimensional X (n_samples, n_features); got {np.asarray(X).ndim} dimension(s). "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )


def _drop_models_outside_pool(builder):
    """Fold models are kept only for the ensemble's candidate pool: memory stays bounded.

    The out-of-fold predictions of every evaluation stay (the search needs
    them); a journal, if any, has already written every model to disk.
    """

    def drop(evaluation, engine):
        keep = {e.id for e in builder.pool(list(engine.archive.values()))}
        for e in engine.archive.values():
            if e.models is not None and e.id not in keep:
                e.models = None

    return drop


def _chain(callbacks):
    if not callbacks:
        return None

    def call_all(evaluation, engine):
        for cb in callbacks:
            cb(evaluation, engine)

    return call_all


_PARAMS_DOC = """
    Parameters
    ----------
    time_budget : float or None, default=60.0
        Wall-clock seconds for the whole ``fit`` (search, ensemble, refit);
        ``fit`` returns within it plus a few percent.  ``None``: no time limit
        (then ``generations`` must be set).
    generations : int or None, default=None
        Stop after this many generations (each ``population_size`` evaluations).
        A run bounded by generations is reproducible.
    population_size : int, default=20
        Candidates per generation.
    scoring : str, callable or None, default=None
        A scikit-learn scoring name or scorer; ``None`` picks ROC AUC (binary),
        log loss (multiclass) or RMSE (regression).
    cv : int or "auto", default="auto"
        Folds of the run's fixed cross-validation (stratified for classifiers).
        ``"auto"`` takes 8 folds below 10,000 rows (fold models then see 7/8
        of the rows, which counts most on small data) and 5 from there on.
    n_jobs : int, default=1
        Cores to use in total (worker processes x learner threads); -1 for all.
    space : str, path or SearchSpace, default="default"
        A preset name (``default``, ``fast``, ``trees``), a TOML file or a space.
    random_state : int or None, default=None
        Seeds folds, search and learners.
    early_stop : int or None, default=None
        Stop after this many generations without a better best score.
    max_eval_time : float or None, default=None
        Seconds one evaluation may take before it is stopped and recorded as a
        timeout; ``None``: a third of ``time_budget``.
    refit : bool, default=False
        Refit the ensemble members on all rows after the search (by default the
        members' fold models are averaged, with no refit).  Each member refits
        with its candidate's seed, inside the time budget; one whose refit would
        not finish in the time left keeps its fold models (see ``refit_``).
    backend : {"local", "sequential", "dask"}, default="local"
        ``local``: worker processes on this machine; ``sequential``: in-process
        (for tiny data and debugging; deadlines are cooperative only);
        ``dask``: a Dask cluster (``scheduler``, a ``client`` passed to ``fit``,
        or else a ``LocalCluster`` of ``n_jobs`` workers started and closed by
        ``fit``).  A global Dask client is never picked up silently.
    scheduler : str or None, default=None
        Address of an existing Dask scheduler (``"tcp://host:8786"``), for
        ``backend="dask"``.
    security : distributed.Security, bool or None, default=None
        TLS settings passed to the Dask ``Client`` made for ``scheduler``.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where the tree boosters train.  ``auto``: a GPU when the worker running
        the evaluation has one, else CPU; ``cuda``: a GPU, or an error before
        the search starts if none is found.
    memory_limit : str, float or None, default=None
        Per-worker memory limit of a Dask ``LocalCluster`` started by ``fit``.
    run_dir : str, path or None, default=None
        A run directory with a durable journal of every evaluation.  Fitting
        again with the same ``run_dir`` and data resumes the run: evaluations
        already in the journal are not re-run.
    verbose : int, default=0
        0: silent; 1: a live status line on a terminal (elapsed and remaining
        budget, evaluations done and failed, best score, generation), else a
        line per evaluation; 2: always a line per evaluation.
"""

_ATTRS_DOC = """
    Attributes
    ----------
    ensemble_ : EnsembleModel
        The fitted ensemble: ``kind`` (single, weighted, stacked), ``members``.
    leaderboard_ : pandas.DataFrame
        Every evaluation: genome, score, fold scores, times, status, generation, parents.
    best_score_ : float
        Best single pipeline's cross-validated score (larger is better).
    best_pipeline_ : str
    n_evaluations_ : int
    stop_reason_ : str
    refit_ : dict
        Only with ``refit=True``: member id to what its refit did.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.
"""


class EvoEnsembleClassifier(ClassifierMixin, _EvoEnsembleBase):
    __doc__ = ("""Evolutionary search over pipelines, ensembled, as a classifier.
""" + _PARAMS_DOC + _ATTRS_DOC + """    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from evoens import EvoEnsembleClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = EvoEnsembleClassifier(generations=1, population_size=2, space="fast",
    ...                             backend="sequential", random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
""")

    _task_kind = "classification"

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        return self._predict_raw(X)

    def predict(self, X):
        """Predicted class labels."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class EvoEnsembleRegressor(RegressorMixin, _EvoEnsembleBase):
    __doc__ = ("""Evolutionary search over pipelines, ensembled, as a regressor.
""" + _PARAMS_DOC + _ATTRS_DOC + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from evoens import EvoEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = EvoEnsembleRegressor(generations=1, population_size=2, space="fast",
    ...                            backend="sequential", random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
""")

    _task_kind = "regression"

    def predict(self, X):
        """Predicted values."""
        return self._predict_raw(X)
