"""The estimators' shared docstring sections (numpydoc), written once for both."""

__all__ = ["PARAMETERS", "ATTRIBUTES"]

PARAMETERS = """
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
        ``"auto"`` takes 8 folds below 10,000 rows and below 80 rows per
        second of ``time_budget`` (4,800 rows at 60 s; fold models then see 7/8
        of the rows, which counts most on small data), else 5.
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
    search_rows : int or "auto", default="auto"
        With a Dask DataFrame ``X`` only: rows of the sample the search runs
        on.  ``"auto"``: as many as fit in 1/20 of the smallest worker's
        memory limit as float64, counting each non-numeric column one-hot
        encoded at its widest (32 columns; the worker also holds each
        evaluation's fold copies), and whose fold models (a full-depth
        forest's, 20 kB a row) fit in a quarter of it; at most 100,000.
    run_dir : str, path or None, default=None
        A run directory with a durable journal of every evaluation.  Fitting
        again with the same ``run_dir`` and data resumes the run: evaluations
        already in the journal are not re-run.
    verbose : int, default=0
        0: silent; 1: a live status line on a terminal (elapsed and remaining
        budget, evaluations done and failed, best score, generation), else a
        line per evaluation; 2: always a line per evaluation.
"""

ATTRIBUTES = """
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
    data_parallel_ : dict
        Only after ``fit`` on a Dask DataFrame: rows, partitions (training and
        held out), the search sample's rows, what each member's data-parallel
        training did, the check scores on held-out rows of the sample-trained
        and the data-parallel ensembles, and which one is used.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X had string column names.
"""
