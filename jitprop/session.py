"""A training run as the command runs it, reachable from Python.

``Run`` takes a ``RunConfig`` and does everything ``jitprop train`` does:
loads and standardises the data, builds the network, cost, optimizer and
schedule, trains under the thread setting, saves a checkpoint after every
epoch (atomically; the path is locked while the run owns it), writes one
JSON line per epoch to a log, and on Ctrl-C makes sure the last completed
epoch is on disk and says what the file holds. ``Run.resume(path)`` continues
a saved run with the same bits as an uninterrupted one.

    from jitprop import RunConfig, Run
    result = Run(RunConfig.from_preset("default", epochs=3), save="run.npz").train()
    result = Run.resume("run.npz", epochs=6).train()
"""
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jitprop.config import ConfigError, RunConfig
from jitprop.files import PathBusy, atomic_write, clean_stale_temps, path_lock

DEFAULT_INTERRUPT_SAVE = "jitprop-checkpoint.npz"


class RunError(RuntimeError):
    """A run could not start or finish (the message says why)."""


@dataclass
class RunResult:
    net: object
    history: list
    test_accuracy: float = None
    val_accuracy: float = None
    compile_seconds: float = 0.0
    train_seconds: float = 0.0
    total_seconds: float = 0.0
    threads: int = 1
    interrupted: bool = False
    saved_epoch: int = None
    save_path: str = None
    extra: dict = field(default_factory=dict)


def check_output_path(flag, path):
    """A file the run will write: its folder must exist and be writable, and
    it must not be a folder itself. Checked before training starts."""
    if path is None:
        return None
    p = Path(path)
    if str(path) == "":
        raise ConfigError(flag, "expected a file name, got an empty string")
    if p.is_dir():
        raise ConfigError(flag, f"{path} is a folder; expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(flag, f"the folder {parent} does not exist (create it first)")
    if not os.access(parent, os.W_OK):
        raise ConfigError(flag, f"the folder {parent} is not writable")
    return p


def load_data(cfg):
    """The arrays a run trains on, in the config's dtype (see
    ``jitprop.data.dataset_arrays``): x_train, y_train, x_val, y_val (None
    without validation), x_test, y_test (None when the split has no test set),
    mean, std, n_features, n_classes."""
    from jitprop.data import dataset_arrays
    try:
        return dataset_arrays(cfg.data or cfg.dataset, np.dtype(cfg.dtype).type,
                              None if cfg.split == "hamlet" else cfg.val_size, split=cfg.split, scale=cfg.inputs,
                              seed=cfg.seed)
    except ValueError as exc:
        if str(exc).startswith("n_val:"):  # the data layer's name for --val-size
            raise ConfigError("--val-size", str(exc).split(": ", 1)[1]) from None
        raise


def raw_test_images(dataset):
    """The test images (as stored) of a named data set or a data file."""
    from jitprop.data import load_dataset
    x = load_dataset(dataset or "mnist").x_test
    if x is None:
        raise ValueError(f"the data file {dataset} has no x_test")
    return x


def test_arrays(data, dtype):
    """The test set a checkpoint's network is scored on: its data set's test
    images, prepared as in training (``data``: the checkpoint's data record:
    dataset, inputs, mean, std), and the labels."""
    from jitprop.data import load_dataset, standardize
    d = load_dataset(data.get("dataset") or "mnist")
    if d.x_test is None:
        raise ValueError(f"the data file {d.source} has no x_test to score")
    if data.get("inputs") == "raw":
        return np.asarray(d.x_test, dtype), d.y_test
    if data.get("mean") is None or data.get("std") is None:
        raise ValueError("has no input statistics (data mean and std), so the test images cannot be standardised "
                         "the way the network was trained; save it with jitprop.save_checkpoint(path, net, "
                         "data=dict(mean=..., std=...)) (mnist_arrays returns both), or train with --save")
    return standardize(d.x_test, data["mean"], data["std"], dtype)[0], d.y_test


def _versions():
    import platform

    import numba

    import jitprop
    return {"jitprop": jitprop.__version__, "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "machine": platform.machine()}


class Run:
    """One training run. ``save``: checkpoint path (every epoch); ``log``:
    JSON-lines path (one record per epoch, flushed); ``overwrite``: replace a
    checkpoint of another run; ``progress``: tqdm bars; ``echo(line)``: where
    per-epoch lines go (default: nowhere)."""

    def __init__(self, config=None, *, save=None, log=None, overwrite=False, progress=True, echo=None,
                 interrupt_save=DEFAULT_INTERRUPT_SAVE, _resume=None):
        self.config = config if config is not None else RunConfig.from_preset("default")
        if not isinstance(self.config, RunConfig):
            raise TypeError(f"config: expected a RunConfig, got {type(self.config).__name__}")
        self.save_path = check_output_path("--save", save)
        self.log_path = check_output_path("--log", log)
        self.overwrite = overwrite
        self.progress = progress
        self.echo = echo or (lambda line: None)
        self.interrupt_save = interrupt_save
        self._resume = _resume
        self.run_id = _resume["header"].get("run_id") if _resume else uuid.uuid4().hex
        # the total number of epochs the resumed run was started with (None: a new run)
        self.resumed_from_total = _resume["header"]["config"]["epochs"] if _resume else None
        if self.save_path is not None and self.save_path.exists() and not overwrite:
            same_file = _resume and self.save_path.resolve() == Path(_resume["path"]).resolve()
            if not same_file:
                self._refuse_foreign(self.save_path)

    # ----------------------------------------------------------- resuming
    @classmethod
    def resume(cls, path, *, epochs=None, threads=None, save=None, **kw):
        """Continue the run saved in ``path``: the same configuration, network,
        optimizer state, schedule and sample order. ``epochs`` may raise the
        total; ``threads`` may change (the bits do not depend on it). Saves
        to ``path`` unless ``save`` names another file."""
        from jitprop.model.checkpoint import CheckpointError, check_data, read_checkpoint
        try:
            header, params, state = read_checkpoint(path)
        except CheckpointError as exc:
            raise ConfigError("--resume", str(exc)) from None
        missing = [k for k in ("config", "epoch", "rng_state", "optimizer") if k not in header]
        if missing:
            try:
                data = check_data(path, header) or {}
            except CheckpointError:
                data = {}
            scored = data.get("inputs") == "raw" or (data.get("mean") is not None and data.get("std") is not None)
            readers = "jitprop predict and inspect" if scored else "jitprop inspect --weights"
            raise ConfigError("--resume", f"{path} has no {', '.join(missing)}: it was not saved by a jitprop "
                                          "training run (jitprop train --save, or Run(save=...)) of this version; "
                                          f"{readers} can read it, resume cannot")
        try:
            cfg = RunConfig.from_dict(header["config"])
        except (ConfigError, TypeError) as exc:
            raise ConfigError("--resume", f"{path}: its configuration is not valid here ({exc})") from None
        changes = {}
        if epochs is not None:
            changes["epochs"] = epochs
        if threads is not None:
            changes["threads"] = threads
        if changes:
            cfg = cfg.replace(**changes)
        if cfg.epochs <= header["epoch"]:
            raise ConfigError("--epochs", f"the checkpoint already completed epoch {header['epoch']}; expected "
                                          f"more than that, got {cfg.epochs}")
        return cls(cfg, save=save if save is not None else path,
                   _resume={"path": str(path), "header": header, "params": params, "state": state}, **kw)

    # ------------------------------------------------------------ building
    def build(self, data=None):
        """Load the data and build (or restore) the network, cost, optimizer
        and schedule. Returns self. ``data``: the arrays to train on instead,
        as ``load_data(config)`` returns them (a sweep reads them once per
        worker, and gives each fold its own rows)."""
        import jitprop
        from jitprop.model.optim import make_optimizer
        from jitprop.model.schedules import SCHEDULES
        cfg = self.config
        self.data = d = load_data(cfg) if data is None else data
        sizes = cfg.widths(d["n_features"], d["n_classes"])
        if sizes[0] != d["n_features"] or sizes[-1] != d["n_classes"]:
            raise ConfigError("--layers", f"the data has {d['n_features']} inputs and {d['n_classes']} classes, "
                                          f"got {cfg.layers!r}")
        self.sizes = sizes
        backend = jitprop.IMPLS[cfg.resolved_impl].backend
        dtype = np.dtype(cfg.dtype).type
        self.cost = jitprop.CrossEntropy() if cfg.cost == "cross-entropy" else jitprop.MeanSquareError()
        if self._resume:
            from jitprop.model.checkpoint import build_network
            r = self._resume
            self.net = build_network(r["header"], r["params"], backend)
            if self.net.sizes != sizes:
                raise ConfigError("--resume", f"the checkpoint's network {self.net.sizes} does not fit the data "
                                              f"({sizes})")
            self.optimizer = make_optimizer(r["header"]["optimizer"]["config"])
            self.optimizer.load_state_dict({"t": r["header"]["optimizer"]["t"], "state": r["state"]})
            self.start_epoch = r["header"]["epoch"] + 1
            self.rng_state = r["header"]["rng_state"]
            self.past = list(r["header"].get("history", []))
            saved = r["header"].get("data") or {}
            if saved.get("mean") is not None and (saved["mean"], saved["std"]) != (d["mean"], d["std"]):
                raise RunError(f"--resume: the data's statistics changed since the checkpoint (mean {saved['mean']} "
                               f"std {saved['std']} then, {d['mean']} {d['std']} now)")
        else:
            self.net = jitprop.mlp(sizes, cfg.activation, cfg.output, cfg.init_value, cfg.seed, backend, dtype)
            self.optimizer = optimizer_from_config(cfg)
            self.start_epoch, self.rng_state, self.past = 1, None, []
        kind = SCHEDULES[cfg.schedule]
        params = {"exponential": dict(gamma=cfg.lr_decay), "step": dict(step_size=cfg.step_size, gamma=cfg.lr_decay),
                  "cosine": dict(min_lr=cfg.min_lr)}.get(cfg.schedule, {})
        self.schedule = kind(**params, warmup=cfg.warmup)
        from jitprop.threads import default_threads
        self.threads = (cfg.threads if cfg.threads is not None
                        else default_threads(cfg.batch_size, sizes, cfg.resolved_impl))
        return self

    # ------------------------------------------------------------ training
    def _checkpoint_state(self, epoch, rng_state):
        d = self.data
        return dict(epoch=epoch, rng_state=rng_state, config=self.config.as_dict(), history=list(self.past),
                    schedule=self.schedule.config(),
                    data={"mean": d["mean"], "std": d["std"], "n_features": d["n_features"],
                          "n_classes": d["n_classes"], "dataset": self.config.data or self.config.dataset,
                          "inputs": self.config.inputs})

    def _save(self, path, state, overwrite=None):
        from jitprop.model.checkpoint import save_checkpoint
        try:
            with deferred_sigint():
                save_checkpoint(path, self.net, optimizer=self.optimizer, run_id=self.run_id,
                                overwrite=self.overwrite if overwrite is None else overwrite, **state)
        except OSError as exc:
            held = _epoch_on_disk(path) if Path(path).exists() else None
            kept = f"it still holds epoch {held}" if held is not None else "nothing was written"
            raise RunError(f"--save: writing {path} failed ({exc.strerror or exc}); {kept}") from None

    def _log(self, record):
        if self.log_path is None:
            return
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")
            f.flush()

    def train(self):
        """Train to ``config.epochs``; returns a ``RunResult``. Raises
        ``jitprop.TrainingDiverged`` (the checkpoint keeps the last good
        epoch) and, on Ctrl-C, returns with ``interrupted=True`` after saving."""
        import jitprop
        from jitprop.model.checkpoint import CheckpointError, read_checkpoint
        from jitprop.model.train import format_record
        from jitprop.threads import limit_threads, uses_blas
        t_start = time.perf_counter()
        if not hasattr(self, "net"):
            self.build()
        cfg, d = self.config, self.data
        result = RunResult(net=self.net, history=self.past, threads=self.threads,
                           save_path=str(self.save_path) if self.save_path else None)
        last = {"epoch": self.start_epoch - 1, "saved": None, "state": None}
        lock = path_lock(self.save_path) if self.save_path else contextlib.nullcontext()

        def on_epoch(record, state):
            self.past.append(record)
            self._log({"event": "epoch", **record})
            shown = record if cfg.cost_report == "mean" else {**record, "cost": record["cost_sum"]}
            self.echo(format_record(shown, cfg.epochs))
            last["epoch"] = record["epoch"]
            last["state"] = self._checkpoint_state(record["epoch"], state["rng_state"])
            last["params"] = self.net.params.copy()
            last["opt"] = (None if self.optimizer.state is None else self.optimizer.state.copy(), self.optimizer.t)
            if self.save_path:
                self._save(self.save_path, last["state"])
                last["saved"] = record["epoch"]

        try:
            lock.__enter__()
        except PathBusy as exc:
            raise RunError(f"--save: {exc}") from None
        try:
            if self.save_path:
                clean_stale_temps(self.save_path)
            with limit_threads(self.threads, blas=uses_blas(cfg.resolved_impl)):
                history = jitprop.train(
                    self.net, self.cost, d["x_train"], d["y_train"], d["x_val"], d["y_val"],
                    x_test=d["x_test"] if cfg.eval_test else None, y_test=d["y_test"] if cfg.eval_test else None,
                    epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer=self.optimizer,
                    schedule=self.schedule, seed=cfg.seed, shuffle=cfg.shuffle, mean_loss=cfg.mean_loss,
                    impl=cfg.resolved_impl, progress=self.progress, on_epoch=on_epoch,
                    start_epoch=self.start_epoch, rng_state=self.rng_state)
                result.compile_seconds, result.train_seconds = history.compile_seconds, history.train_seconds
                if d["x_test"] is not None:
                    result.test_accuracy = jitprop.accuracy(self.net, d["x_test"], d["y_test"])
                if d["x_val"] is not None and self.past:
                    result.val_accuracy = self.past[-1]["val_accuracy"]
        except KeyboardInterrupt:
            result.interrupted = True
            self._on_interrupt(result, last)
        except jitprop.TrainingDiverged as exc:
            self._log({"event": "diverged", "message": str(exc), "last_epoch": last["epoch"]})
            kept = ""
            if self.save_path and self.save_path.exists():
                with contextlib.suppress(CheckpointError):
                    kept = f" The checkpoint {self.save_path} holds epoch {read_checkpoint(self.save_path)[0]['epoch']}."
            raise jitprop.TrainingDiverged(f"{exc}{kept}") from None
        finally:
            lock.__exit__(None, None, None)
        result.total_seconds = time.perf_counter() - t_start
        return result

    def _refuse_foreign(self, path):
        from jitprop.model.checkpoint import CheckpointError, read_checkpoint
        try:
            header = read_checkpoint(path)[0]
        except CheckpointError:
            raise ConfigError("--save", f"{path} exists and is not a jitprop checkpoint; refusing to overwrite "
                                        "it (pass --overwrite to replace it)") from None
        if header.get("run_id") != self.run_id:
            raise ConfigError("--save", f"{path} holds another run (epoch {header.get('epoch', '?')}); refusing to "
                                        "overwrite it (pass --overwrite to replace it, or --resume it)")

    def _on_interrupt(self, result, last):
        """Make sure the last completed epoch is on disk and say what is."""
        from jitprop.model.checkpoint import CheckpointError, read_checkpoint
        self._log({"event": "interrupted", "last_epoch": last["epoch"]})
        if last["state"] is None:
            where = self.save_path if self.save_path and self.save_path.exists() else None
            result.save_path = str(where) if where else None
            result.saved_epoch = _epoch_on_disk(where) if where else None
            return
        where = self.save_path or _free_name(self.interrupt_save)
        if last["saved"] != last["epoch"] or self.save_path is None:
            self.net.params[:] = last["params"]
            self.optimizer.state, self.optimizer.t = last["opt"]
            try:
                self._save(where, last["state"], overwrite=self.overwrite or self.save_path is None)
            except (OSError, CheckpointError) as exc:
                result.extra["save_error"] = str(exc)
        result.save_path = str(where)
        try:
            result.saved_epoch = read_checkpoint(where)[0]["epoch"]
        except CheckpointError:
            result.saved_epoch = None


def optimizer_from_config(cfg):
    """The optimizer a RunConfig names, with the settings its class takes
    (its constructor's parameter names are RunConfig fields; ``decoupled``
    is --decoupled-weight-decay)."""
    import inspect

    from jitprop.model.optim import OPTIMIZER_CLASSES
    cls = OPTIMIZER_CLASSES[cfg.optimizer]
    names = {"decoupled": "decoupled_weight_decay"}
    kw = {p: getattr(cfg, names.get(p, p)) for p in inspect.signature(cls).parameters}
    return cls(**kw)


def _epoch_on_disk(path):
    from jitprop.model.checkpoint import CheckpointError, read_checkpoint
    try:
        return read_checkpoint(path)[0].get("epoch")
    except CheckpointError:
        return None


def _free_name(path):
    """``path``, or ``path`` with -1, -2 ... added when a file is already there."""
    path = Path(path)
    n, candidate = 0, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


@contextlib.contextmanager
def deferred_sigint():
    """Hold SIGINT (Ctrl-C) until the block ends, so a checkpoint is never cut
    off half-way and the run can say truthfully what is on disk. Only in the
    main thread (signal handlers live there); elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def write_summary(path, cfg, result):
    """The --json summary: configuration, threads, history, accuracies, seconds, versions."""
    summary = {"config": cfg.as_dict(), "threads": result.threads, "history": result.history,
               "test_accuracy": result.test_accuracy, "val_accuracy": result.val_accuracy,
               "compile_seconds": result.compile_seconds, "train_seconds": result.train_seconds,
               "total_seconds": result.total_seconds, "versions": _versions()}
    with atomic_write(path, "w") as f:
        json.dump(summary, f, indent=2)


def run(config=None, *, save=None, log=None, overwrite=False, progress=True, verbose=False, **overrides):
    """Train as ``jitprop train`` does; returns a ``RunResult``. ``config``: a
    RunConfig or a preset name; ``overrides``: settings on top (``epochs=3``)."""
    if config is None or isinstance(config, str):
        config = RunConfig.from_preset(config or "default", **overrides)
    elif overrides:
        config = config.replace(**overrides)
    echo = (lambda line: print(line, file=sys.stderr, flush=True)) if verbose else None
    return Run(config, save=save, log=log, overwrite=overwrite, progress=progress, echo=echo).train()
