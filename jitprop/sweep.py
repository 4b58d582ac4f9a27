"""Hyperparameter sweeps over the settings of ``jitprop.config.SETTINGS``,
run on a Dask cluster (``jitprop sweep``; the command only parses and
prints).

A sweep is a list of candidates (each a dict of settings: a grid's cartesian
product, or draws from a search space) and a ``Job``: the preset and fixed
settings every candidate starts from, how candidates are scored (accuracy on
the last ``val_size`` training rows, or mean accuracy over ``folds`` folds of
the training rows) and the threads each candidate trains with.
``run_candidate`` trains one candidate with ``jitprop.session.Run`` in a
worker (its RunConfig is ``RunConfig.from_preset(preset, **fixed,
**candidate)``); a candidate whose settings do not make a valid run is
reported as failed with the ConfigError's message. ``run_sweep`` submits the
candidates to a ``distributed.Client``, at most one per worker thread at a
time, so a worker that dies takes down only the candidate it was training
(reported failed); ``local_client`` starts the LocalCluster a sweep uses by
default, with ``allowed-failures`` 0 so that candidate is not retried on
another worker.

Spec syntax (``--grid`` and ``--space``): ``KEY=V1,V2,...`` lists values
(the grid's axis, or a choice for random search); for random search also
``KEY=log:LO:HI`` (log-uniform), ``KEY=uniform:LO:HI`` and ``KEY=int:LO:HI``
(integers, both ends included). KEY is a setting name (``lr``,
``batch_size`` or ``batch-size``); values are parsed by the setting's type.

Without Dask installed, everything but running works; ``require_dask``
raises ``DaskUnavailable`` naming ``pip install "jitprop[dask]"``.
"""
import contextlib
import functools
import itertools
import math
import os
import shlex
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from types import SimpleNamespace

import numpy as np

from jitprop.config import SETTING, SETTINGS, ConfigError, RunConfig

EXTRA = 'pip install "jitprop[dask]"'
DISTRIBUTIONS = ("log", "uniform", "int")


class DaskUnavailable(ImportError):
    """dask.distributed is not installed."""


class SpecError(ValueError):
    """A --grid/--space entry that cannot be read; ``flag`` names the option."""

    def __init__(self, flag, message):
        super().__init__(f"{flag}: {message}")
        self.flag = flag


def require_dask():
    """Import dask.distributed, or raise DaskUnavailable naming the extra."""
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError:
        raise DaskUnavailable(f"jitprop sweep needs dask.distributed, which is not installed: {EXTRA}") from None
    return distributed


# ------------------------------------------------------------------- specs

def setting_name(flag, key):
    """``lr``, ``batch-size`` or ``batch_size`` -> the setting's name."""
    name = key.strip().replace("-", "_")
    if name not in SETTING or name == "preset":
        raise SpecError(flag, f"{key!r} is not a setting; expected one of {', '.join(s.name for s in SETTINGS)}")
    return name


def parse_value(flag, name, text):
    """One value of setting ``name`` from text, by the setting's type."""
    s = SETTING[name]
    text = text.strip()
    if s.type is bool:
        low = text.lower()
        if low in ("true", "on", "yes", "1"):
            return True
        if low in ("false", "off", "no", "0"):
            return False
        raise SpecError(flag, f"{name}: expected true or false, got {text!r}")
    if s.optional and text.lower() in ("none", "auto"):
        return None
    if s.type is int:
        try:
            return int(text)
        except ValueError:
            raise SpecError(flag, f"{name}: expected an integer, got {text!r}") from None
    if s.type is float:
        try:
            return float(text)
        except ValueError:
            raise SpecError(flag, f"{name}: expected a number, got {text!r}") from None
    if not text:
        raise SpecError(flag, f"{name}: expected a value, got an empty string")
    return text


def _split(flag, entry):
    if "=" not in entry:
        raise SpecError(flag, f"expected KEY=VALUES such as lr=0.001,0.01, got {entry!r}")
    key, values = entry.split("=", 1)
    return setting_name(flag, key), values


def parse_grid(entries, flag="--grid"):
    """["lr=0.001,0.01", "batch_size=32,64"] -> {"lr": [0.001, 0.01], "batch_size": [32, 64]}."""
    grid = {}
    for entry in entries:
        name, values = _split(flag, entry)
        if name in grid:
            raise SpecError(flag, f"{name} is given twice")
        if name == "layers" and ":" in values:  # layers take commas: separate candidates with ':'
            grid[name] = [parse_value(flag, name, v) for v in values.split(":")]
        else:
            grid[name] = [parse_value(flag, name, v) for v in values.split(",")]
    return grid


def parse_space(entries, flag="--space"):
    """Random-search space: {name: ("choice", [values]) | (dist, lo, hi)}."""
    space = {}
    for entry in entries:
        name, text = _split(flag, entry)
        if name in space:
            raise SpecError(flag, f"{name} is given twice")
        dist, _, rest = text.partition(":")
        if dist in DISTRIBUTIONS:
            s = SETTING[name]
            if s.type not in (int, float):
                raise SpecError(flag, f"{name}: {dist}:LO:HI needs a numeric setting; {name} takes "
                                      f"{s.type.__name__} values (list them: {name}=A,B)")
            parts = rest.split(":")
            if len(parts) != 2:
                raise SpecError(flag, f"{name}: expected {dist}:LO:HI, got {text!r}")
            try:
                lo, hi = float(parts[0]), float(parts[1])
            except ValueError:
                raise SpecError(flag, f"{name}: expected numbers in {dist}:LO:HI, got {text!r}") from None
            if s.type is int and dist == "uniform":
                dist = "int"  # an integer setting draws integers
            if not lo < hi or (dist == "log" and lo <= 0) or (dist == "int" and (lo != int(lo) or hi != int(hi))):
                need = {"log": "0 < LO < HI", "uniform": "LO < HI", "int": "integers LO < HI"}[dist]
                raise SpecError(flag, f"{name}: expected {need} in {text.split(':')[0]}:LO:HI, got {text!r}")
            space[name] = (dist, lo, hi)
        else:
            space[name] = ("choice", parse_grid([entry], flag)[name])
    return space


def grid_candidates(grid):
    """The cartesian product of the grid's axes, first axis slowest."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def random_candidates(space, n, seed=0):
    """``n`` draws from ``space`` with ``numpy.random.default_rng(seed)``,
    duplicates dropped (the first kept)."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    for _ in range(n):
        c = {}
        for name, spec in space.items():
            kind = spec[0]
            if kind == "choice":
                c[name] = spec[1][int(rng.integers(len(spec[1])))]
            else:
                if kind == "int":
                    v = int(rng.integers(int(spec[1]), int(spec[2]) + 1))
                elif kind == "uniform":
                    v = float(rng.uniform(spec[1], spec[2]))
                else:
                    v = float(math.exp(rng.uniform(math.log(spec[1]), math.log(spec[2]))))
                c[name] = int(round(v)) if SETTING[name].type is int else float(v)
        key = tuple(sorted(c.items()))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


# ------------------------------------------------------------------- jobs

@dataclass(frozen=True)
class Job:
    """What every candidate shares: preset, fixed settings (a dict, with
    ``threads`` and, for a validation split, ``val_size``) and ``folds``
    (0: score on the validation split)."""
    preset: str = "default"
    fixed: dict = field(default_factory=dict)
    folds: int = 0


def config_of(job, settings):
    """The candidate's RunConfig (raises ConfigError for an invalid one)."""
    return RunConfig.from_preset(job.preset, **{**job.fixed, **settings})


@functools.lru_cache(maxsize=2)
def _data(data, dataset, dtype, val_size, split, inputs, seed):
    from jitprop.session import load_data
    return load_data(SimpleNamespace(data=data, dataset=dataset, dtype=dtype, val_size=val_size, split=split,
                                     inputs=inputs, seed=seed))


def load_once(cfg):
    """The run's arrays (``jitprop.session.load_data``), read once per worker
    process for all the candidates that share them."""
    return _data(cfg.data, cfg.dataset, cfg.dtype, cfg.val_size, cfg.split, cfg.inputs,
                 cfg.seed if cfg.split == "hamlet" else 0)


def fold_data(data, folds, k, seed):
    """Fold ``k`` of ``folds``: train on the other folds' rows, validate on
    its own; the folds split a ``default_rng(seed)`` permutation of the
    training rows. The scaling statistics are those of all training rows."""
    n = data["x_train"].shape[0]
    parts = np.array_split(np.random.default_rng(seed).permutation(n), folds)
    val = np.sort(parts[k])
    train = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != k]))
    return {**data, "x_train": data["x_train"][train], "y_train": data["y_train"][train],
            "x_val": data["x_train"][val], "y_val": data["y_train"][val], "x_test": None, "y_test": None}


def _train_once(cfg, data):
    from jitprop.session import Run
    run = Run(cfg, progress=False)
    run.build(data=data)
    result = run.train()
    return result.val_accuracy, result.train_seconds


def run_candidate(settings, job):
    """Train one candidate (in a worker); returns a JSON-able record:
    settings, status ("ok" or "failed"), score (mean validation accuracy),
    fold_scores, seconds (the candidate's wall time in the worker, reading
    the data the first time included), error (for a failed one), worker
    (host:pid of the process that ran it)."""
    import jitprop
    from jitprop.data import DatasetUnavailable
    from jitprop.session import RunError
    record = {"settings": dict(settings), "status": "failed", "score": None, "fold_scores": [], "seconds": None,
              "error": None, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    t0 = time.perf_counter()
    try:
        cfg = config_of(job, settings)
        data = load_once(cfg)
        if job.folds:
            scores = [_train_once(cfg, fold_data(data, job.folds, k, cfg.seed))[0] for k in range(job.folds)]
        else:
            scores = [_train_once(cfg, {**data, "x_test": None, "y_test": None})[0]]
    except (ConfigError, RunError, DatasetUnavailable, jitprop.TrainingDiverged, ValueError, TypeError) as exc:
        record["error"] = str(exc)
        return record
    record.update(status="ok", score=float(np.mean(scores)), fold_scores=[float(s) for s in scores],
                  seconds=time.perf_counter() - t0)
    return record


def failed(settings, error):
    return {"settings": dict(settings), "status": "failed", "score": None, "fold_scores": [], "seconds": None,
            "error": error, "worker": None}


# ---------------------------------------------------------------- clusters

def worker_env(threads):
    """Environment of each worker process: its thread pools sized to the
    candidate's threads before anything starts them (each task also pins
    its threads with ``jitprop.threads.limit_threads``)."""
    t = str(threads)
    return {"NUMBA_NUM_THREADS": t, "OMP_NUM_THREADS": t, "OPENBLAS_NUM_THREADS": t, "MKL_NUM_THREADS": t}


@contextlib.contextmanager
def local_client(workers, threads=1, quiet=True):
    """A ``distributed.Client`` on a LocalCluster started for the sweep:
    ``workers`` processes of one Dask thread each (one candidate at a time),
    their BLAS/Numba pools sized to ``threads``, on 127.0.0.1, no
    dashboard. ``allowed-failures`` is 0: a candidate whose worker dies is
    failed at once instead of being tried on the next worker. Closed on exit."""
    import logging

    import dask
    distributed = require_dask()
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None, env=worker_env(threads),
                                           silence_logs=logging.CRITICAL if quiet else logging.WARNING)
    try:
        with distributed.Client(cluster) as client:
            yield client
    finally:
        cluster.close()


@contextlib.contextmanager
def remote_client(address):
    """A client of an existing cluster (``tcp://HOST:8786``); its scheduler's
    own ``allowed-failures`` decides how often a task whose worker died is
    retried before it is failed. Connecting gives up after Dask's
    ``distributed.comm.timeouts.connect`` (default 30 s;
    DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s shortens it)."""
    distributed = require_dask()
    try:
        client = distributed.Client(address)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(f"--scheduler: cannot reach {address} ({exc})") from None
    try:
        yield client
    finally:
        client.close()


def _slots(client):
    return max(1, sum(client.nthreads().values()))


def run_sweep(client, candidates, job, *, task=run_candidate, progress=True, on_result=None):
    """Run ``candidates`` (a list of settings dicts) on ``client``'s cluster;
    returns their records in candidate order. At most one candidate per
    worker thread is in flight, so when a worker dies the scheduler has only
    the candidate it was running there to fail (KilledWorker, reported as
    failed); every other candidate still runs. ``task(settings, job)`` is
    ``run_candidate`` (a test passes another)."""
    distributed = require_dask()
    from jitprop.progress import bar
    records = [None] * len(candidates)
    tag = uuid.uuid4().hex[:8]
    queue = iter(enumerate(candidates))
    where = {}
    running = distributed.as_completed()

    def submit():
        for i, settings in queue:
            fut = client.submit(task, settings, job, key=f"jitprop-sweep-{tag}-{i}", pure=False)
            where[fut.key] = i
            running.add(fut)
            return

    for _ in range(min(_slots(client), len(candidates))):
        submit()
    shown = bar(progress, total=len(candidates), desc="sweep", unit="candidate")
    try:
        for fut in running:
            i = where.pop(fut.key)
            try:
                record = fut.result()
            except distributed.KilledWorker:
                record = failed(candidates[i], "its worker died while training it (KilledWorker)")
            except Exception as exc:  # noqa: BLE001 - whatever the task raised, only this candidate failed
                record = failed(candidates[i], f"{type(exc).__name__}: {exc}")
            fut.release()
            records[i] = record
            shown.update(1)
            if on_result is not None:
                on_result(i, record)
            if len(where) < _slots(client):
                submit()
    finally:
        shown.close()
    return records


# ---------------------------------------------------------------- reports

def ranked(records):
    """(rank, record) sorted by score, best first; failed ones last (rank None)."""
    ok = sorted((r for r in records if r["status"] == "ok"), key=lambda r: -r["score"])
    return [(i + 1, r) for i, r in enumerate(ok)] + [(None, r) for r in records if r["status"] != "ok"]


def _shown(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, bool):
        return "on" if v else "off"
    return "auto" if v is None else str(v)


def format_table(records, names, folds=0):
    """The results table: rank, score (validation accuracy, %; with folds
    the mean and standard deviation over the folds), the swept settings,
    seconds, status (a failed candidate's error)."""
    head = ["rank", f"{folds}-fold acc %" if folds else "val acc %"] + (["+/-"] if folds else [])
    head += list(names) + ["seconds", "status"]
    numeric = set(range(len(head) - len(names) - 2)) | {len(head) - 2}  # right-aligned columns
    rows = []
    for rank, r in ranked(records):
        ok = r["status"] == "ok"
        row = ["-" if rank is None else str(rank), f"{100 * r['score']:.2f}" if ok else "-"]
        if folds:
            row.append(f"{100 * float(np.std(r['fold_scores'])):.2f}" if ok else "-")
        row += [_shown(r["settings"].get(n)) for n in names]
        row += [f"{r['seconds']:.2f}" if ok else "-", "ok" if ok else f"failed: {r['error']}"]
        rows.append(row)
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(head)]
    widths[-1] = 0  # the status column runs on

    def line(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(head), line(["-" * max(w, len(h)) for w, h in zip(widths, head)])]
                     + [line(row) for row in rows])


def train_command(job, settings):
    """The ``jitprop train`` command that trains this candidate: every
    setting that differs from the preset's as a flag (with its validation
    rows, the same validation accuracy, at the same threads)."""
    cfg = config_of(job, settings)
    base = RunConfig.from_preset(job.preset)
    parts = ["jitprop", "train"]
    if job.preset != "default":
        parts += ["--preset", job.preset]
    for s in SETTINGS:
        v = getattr(cfg, s.name)
        if v == getattr(base, s.name):
            continue
        if s.type is bool:
            parts.append(s.flag if v else "--no-" + s.flag[2:])
        elif v is not None:
            parts += [s.flag, shlex.quote(repr(v) if isinstance(v, float) else str(v))]
    return " ".join(parts)


def summary(records, job, names, command, cluster):
    """The --json document."""
    best = next((r for _, r in ranked(records) if r["status"] == "ok"), None)
    return {"job": asdict(job), "swept": list(names), "cluster": cluster, "candidates": records,
            "ranking": [r["settings"] for _, r in ranked(records) if r["status"] == "ok"],
            "best": best, "command": command}
