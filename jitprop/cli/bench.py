"""`jitprop bench`: the benchmark suite and its side-by-side table."""
import json
import os
import sys


def add_bench(sub):
    p = sub.add_parser(
        "bench", help="time every implementation side by side, with PyTorch, JAX and the GEMM rate",
        description="Run the benchmark suite (pytest-benchmark) and print one table: implementation, dtype, "
                    "batch size, samples per second, speedup over per-sample NumPy, ratios to PyTorch and to "
                    "JAX (the epoch as one lax.scan) at the same batch size, GFLOP/s and percent of the GEMM "
                    "rate measured in the same run, and the seed network's batch-64 epoch with another process "
                    "keeping one core busy. Every case is checked against the NumPy reference before it is "
                    'timed. PyTorch and JAX are optional: pip install "jitprop[peers]".',
        epilog="The full run (50000 images, both networks, both dtypes) takes about half an hour on 2 cores; "
               "--quick uses 5000 images. pytest's own output goes to a log file next to the JSON.")
    p.add_argument("--quick", action="store_true", help="5000 training images instead of 50000")
    p.add_argument("--json", metavar="PATH", help="keep pytest-benchmark's JSON here (default: a temporary file)")
    p.add_argument("--plot", metavar="PATH", help="draw samples/s against batch size to this PNG (needs matplotlib)")
    p.add_argument("--archs", default="seed,wide", help="networks: seed (784-128-32-10 sigmoid/MSE), "
                                                         "wide (784-512-10 ReLU/cross-entropy)")
    p.add_argument("--impls", help="implementations (comma-separated; default all, the peers torch, jax-jit "
                                   "and jax-scan if installed)")
    p.add_argument("--dtypes", default="float32,float64", help="dtypes (comma-separated)")
    p.add_argument("--raw", action="store_true", help="keep every round's timing in the JSON (large: ~100 MB for "
                                                     "a full run; by default only the statistics are kept)")
    p.add_argument("--table", metavar="JSON", help="print the table of a saved run instead of running")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE.json", "AFTER.json"),
                   help="print per-case speed-ups between two saved runs instead of running")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args):
    import subprocess
    import tempfile
    from pathlib import Path

    import jitprop.bench
    from jitprop.bench import jax_workloads, report, workloads
    from jitprop.cli.common import UsageError

    if args.compare or args.table:
        try:
            if args.compare:
                old, new = (report.load(p) for p in args.compare)
                print(report.format_compare(report.compare(old, new), *args.compare))
            else:
                data = report.load(args.table)
                rows, gemm = report.build_rows(data)
                print(report.format_table(rows, gemm, report.peer_versions(data)))
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"jitprop bench: {'--compare' if args.compare else '--table'}: cannot read a "
                             f"benchmark JSON ({type(exc).__name__}: {exc})")
        return 0

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit('jitprop bench: --plot needs matplotlib: pip install "jitprop[plot]"')
    out = Path(args.json) if args.json else Path(tempfile.mkdtemp(prefix="jitprop-bench-")) / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_suffix(".log")
    cmd = [sys.executable, "-m", "pytest", str(Path(jitprop.bench.__file__).parent), "--benchmark-only",
           f"--benchmark-json={out}", "--import-mode=importlib", "-p", "no:cacheprovider",
           "-p", "jitprop.bench.progress", "-q", "--benchmark-max-time=0.25", f"--archs={args.archs}", f"--dtypes={args.dtypes}"]
    if args.impls:
        cmd.append(f"--impls={args.impls}")
    if args.quick:
        cmd.append("--quick")
    print(f"jitprop bench: running the suite; pytest output in {log}", file=sys.stderr)
    with open(log, "w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=None, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if not out.exists():
        raise SystemExit(f"jitprop bench: the suite did not finish (pytest exit {done.returncode}); see {log}")
    # "not installed" rows only for the peers asked for
    asked = args.impls.split(",") if args.impls else workloads.IMPLS
    torch_installed = "torch" not in asked or workloads.torch_available()
    jax_installed = not set(jax_workloads.JAX_IMPLS) & set(asked) or jax_workloads.jax_available()
    data = report.load(out)
    data["jitprop_environment"] = report.environment()
    if not args.raw:
        data = report.compact(data)
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    rows, gemm = report.build_rows(data, torch_installed=torch_installed, jax_installed=jax_installed)
    print(report.format_table(rows, gemm, report.peer_versions(data)))
    if args.plot:
        report.plot(rows, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if done.returncode != 0:
        print(f"jitprop bench: some cases failed their check against the reference; see {log}", file=sys.stderr)
        return 1
    return 0
