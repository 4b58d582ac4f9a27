"""`jitprop bench`: the benchmark suite and its side-by-side table."""
import os
import sys



def add_bench(sub):
    p = sub.add_parser(
        "bench", help="time every implementation side by side, with PyTorch and the GEMM rate",
        description="Run the benchmark suite (pytest-benchmark) and print one table: implementation, dtype, "
                    "batch size, samples per second, speedup over per-sample NumPy, ratio to PyTorch at the "
                    "same batch size, GFLOP/s and percent of the GEMM rate measured in the same run. Every "
                    "case is checked against the NumPy reference before it is timed.",
        epilog="The full run (50000 images, both networks, both dtypes) takes about half an hour on 2 cores; "
               "--quick uses 5000 images. pytest's own output goes to a log file next to the JSON.")
    p.add_argument("--quick", action="store_true", help="5000 training images instead of 50000")
    p.add_argument("--json", metavar="PATH", help="keep pytest-benchmark's JSON here (default: a temporary file)")
    p.add_argument("--plot", metavar="PATH", help="draw samples/s against batch size to this PNG (needs matplotlib)")
    p.add_argument("--archs", default="seed,default", help="networks: seed (784-128-32-10 sigmoid/MSE), "
                                                         "default (784-512-10 ReLU/cross-entropy)")
    p.add_argument("--impls", help="implementations (comma-separated; default all, PyTorch if installed)")
    p.add_argument("--dtypes", default="float32,float64", help="dtypes (comma-separated)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args):
    import subprocess
    import tempfile
    from pathlib import Path

    import jitprop.bench
    from jitprop.bench import report, workloads

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit('jitprop bench: --plot needs matplotlib: pip install -e ".[plot]"')
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
    rows, gemm = report.build_rows(report.load(out), torch_installed=workloads.torch_available())
    print(report.format_table(rows, gemm))
    if args.plot:
        report.plot(rows, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if done.returncode != 0:
        print(f"jitprop bench: some cases failed their check against the reference; see {log}", file=sys.stderr)
        return 1
    return 0
