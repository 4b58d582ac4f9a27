"""`jitprop sweep`: a grid or random search over training settings on a
Dask cluster. This module parses and prints; the sweep is ``jitprop.sweep``."""
import argparse
import json
import os
import sys
from pathlib import Path

from jitprop.cli.common import UsageError
from jitprop.cli.settings import add_preset_flag, add_setting_flags, given_settings
from jitprop.config import PRESETS, ConfigError

EPILOG = """\
specs (KEY is any setting below, lr or batch_size or batch-size; values are
read by its type):
  --grid KEY=V1,V2,...        one axis of the grid (every combination runs);
                              --grid layers=128:256,64 separates layer lists with ':'
  --space KEY=V1,V2,...       random search: a choice
  --space KEY=log:LO:HI       log-uniform (integers for integer settings)
  --space KEY=uniform:LO:HI   uniform
  --space KEY=int:LO:HI       integers, both ends included

examples:
  jitprop sweep --val-size 10000 --epochs 3 --grid lr=0.001,0.002,0.004 batch_size=32,64
  jitprop sweep --folds 5 --data my.csv --layers 64 --optimizer sgd --random 20 \\
      --space lr=log:1e-3:1e-1 momentum=uniform:0:0.95
  jitprop sweep --val-size 10000 --random 12 --space lr=log:1e-4:1e-2 batch_size=32,64,128 \\
      --workers 4 --json sweep.json
  jitprop sweep --scheduler tcp://10.0.0.5:8786 --val-size 10000 --grid lr=0.001,0.004 seed=0,1,2

Each candidate trains as `jitprop train` would with the fixed settings plus
its own, on a worker, and is scored by its accuracy on the last --val-size
training rows, or by the mean accuracy over --folds folds of the training
rows (train on K-1, score on the one left out; the inputs are scaled with
all training rows' statistics). By default the sweep starts a local Dask
cluster of --workers processes (one candidate each at a time, 127.0.0.1, no
dashboard) and closes it at the end; --scheduler uses an existing cluster
(the workers need jitprop installed and the data at the same path). Every
candidate trains on --threads threads (default 1), pinned in the worker.
A candidate whose settings do not make a valid run, that diverges, or whose
worker dies (it is not retried on the local cluster; on an existing one its
scheduler's allowed-failures decides) is reported as failed; the others
still run. Prints the results sorted by score and the `jitprop train`
command of the best candidate (every setting that differs from the preset,
--threads and --val-size included, so it reproduces the score). Needs
dask.distributed: pip install "jitprop[dask]". The progress bar (stderr)
shows on a terminal; TQDM_DISABLE=1 turns it off.
"""


def add_sweep(sub):
    p = sub.add_parser("sweep", help="grid or random search over training settings on a Dask cluster",
                       description="Train many configurations on a Dask cluster (a local one by default) and "
                                   "rank them by validation accuracy.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    search = p.add_argument_group("search")
    search.add_argument("--grid", nargs="+", metavar="KEY=V1,V2", help="grid search: every combination")
    search.add_argument("--random", type=int, metavar="N", help="random search: N draws from --space")
    search.add_argument("--space", nargs="+", metavar="KEY=SPEC", help="the random search's space (see below)")
    search.add_argument("--search-seed", type=int, default=0, metavar="S",
                        help="seeds the random search's draws (default: 0); --seed seeds each training run")
    search.add_argument("--folds", type=int, metavar="K", help="score by K-fold cross-validation on the training "
                                                               "rows instead of --val-size")
    where = p.add_argument_group("cluster")
    where.add_argument("--workers", type=int, metavar="N", help="worker processes of the local cluster (default: "
                                                                "the cores divided by --threads)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing cluster, e.g. tcp://HOST:8786")
    out = p.add_argument_group("output")
    out.add_argument("--json", metavar="PATH", help="write every candidate's record, the ranking and the best "
                                                    "command as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress bar and no header line")
    add_preset_flag(p, "fixed settings and candidates override it")
    fixed = p.add_argument_group("fixed settings (as jitprop train; the same for every candidate)")
    add_setting_flags(lambda s: fixed,
                      lambda s: "; the sweep's default is 1 per candidate" if s.name == "threads" else "")
    p.set_defaults(func=cmd_sweep)


def _plan(args):
    """(job, candidates, swept names, what scores them) from the flags; UsageError for bad ones."""
    from jitprop import sweep
    fail = lambda flag, msg: UsageError(f"jitprop sweep: {flag}: {msg}")  # noqa: E731
    if bool(args.grid) == bool(args.random is not None):
        raise fail("--grid or --random", "expected one of them (a grid, or N random draws from --space)")
    if args.random is not None and (args.random < 1 or not args.space):
        raise fail("--random", f"expected N >= 1 with --space KEY=SPEC ..., got {args.random}"
                               f"{'' if args.space else ' and no --space'}")
    if args.space and args.random is None:
        raise fail("--space", "needs --random N")
    fixed = given_settings(args)
    try:
        if args.grid:
            grid = sweep.parse_grid(args.grid)
            names, candidates = list(grid), sweep.grid_candidates(grid)
        else:
            space = sweep.parse_space(args.space)
            names, candidates = list(space), sweep.random_candidates(space, args.random, args.search_seed)
    except sweep.SpecError as exc:
        raise UsageError(f"jitprop sweep: {exc}")
    both = [n for n in names if n in fixed]
    if both:
        raise fail("--" + both[0].replace("_", "-"), "is both fixed and swept; give it in one place")
    if args.folds is not None:
        if args.folds < 2:
            raise fail("--folds", f"expected K >= 2, got {args.folds}")
        if fixed.get("val_size") or "val_size" in names:
            raise fail("--folds", "scores on folds of the training rows; drop --val-size")
        scoring = f"{args.folds}-fold cross-validation"
    else:
        if not fixed.get("val_size") and "val_size" not in names:
            raise fail("--val-size or --folds", "expected one of them: candidates are scored on held-out rows")
        scoring = (f"the last {fixed['val_size']} training rows" if "val_size" in fixed
                   else "the last --val-size training rows")
    fixed.setdefault("threads", 1)
    if fixed.get("data"):
        fixed["data"] = str(Path(fixed["data"]).resolve())  # the workers' working folder may differ
    if args.preset is not None and args.preset not in PRESETS:
        raise fail("--preset", f"expected one of {', '.join(PRESETS)}, got {args.preset!r}")
    return sweep.Job(args.preset or "default", fixed, args.folds or 0), candidates, names, scoring


def cmd_sweep(args):
    from jitprop import sweep
    from jitprop.files import atomic_write
    try:
        sweep.require_dask()
    except sweep.DaskUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return 1
    job, candidates, names, scoring = _plan(args)
    threads = job.fixed["threads"]
    if args.scheduler and args.workers is not None:
        raise UsageError("jitprop sweep: --workers: sizes the local cluster; with --scheduler the cluster has "
                         "its own workers")
    workers = args.workers if args.workers is not None else max(1, (os.cpu_count() or 1) // threads)
    if workers < 1:
        raise UsageError(f"jitprop sweep: --workers: expected N >= 1, got {workers}")
    where = (f"the cluster at {args.scheduler}" if args.scheduler
             else f"a local cluster of {workers} worker(s) x {threads} thread(s)")
    if not args.quiet:
        print(f"jitprop sweep: {len(candidates)} candidate(s) over {', '.join(names)}, scored on {scoring}, "
              f"on {where}", file=sys.stderr)
    client_of = (sweep.remote_client(args.scheduler) if args.scheduler
                 else sweep.local_client(workers, threads))
    try:
        with client_of as client:
            records = sweep.run_sweep(client, candidates, job, progress=not args.quiet)
    except ConnectionError as exc:
        raise SystemExit(f"jitprop sweep: {exc}")
    print(sweep.format_table(records, names, job.folds))
    ranked = [r for _, r in sweep.ranked(records) if r["status"] == "ok"]
    command = None
    if ranked:
        best = ranked[0]
        try:
            command = sweep.train_command(job, best["settings"])
        except ConfigError as exc:  # e.g. --threads above this machine's cores, valid on the workers
            command = f"(not valid on this machine: {exc})"
        shown = " ".join(f"{k}={sweep._shown(v)}" for k, v in best["settings"].items())
        print(f"\nbest: {shown} ({100 * best['score']:.2f}% on {scoring})")
        note = "; it trains on all training rows" if job.folds else ""
        print(f"reproduce it{note}:\n  {command}")
    if args.json:
        cluster = {"scheduler": args.scheduler} if args.scheduler else {"workers": workers, "threads": threads}
        with atomic_write(args.json, "w") as f:
            json.dump(sweep.summary(records, job, names, command, cluster), f, indent=2)
    if not ranked:
        print("jitprop sweep: every candidate failed", file=sys.stderr)
        return 1
    return 0

