"""`jitprop verify`: every compiled kernel against its NumPy twin."""
from jitprop.cli.common import nonneg_int


def add_verify(sub):
    p = sub.add_parser("verify", help="check every compiled kernel against its NumPy twin",
                       description="Run every kernel and its NumPy twin on random inputs over many shapes, "
                                   "in float64 and float32, and print the largest differences. "
                                   "Exit status 1 if any exceeds its tolerance.")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--quick", action="store_true", help="fewer shapes")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args):
    from jitprop.verify import format_table, run_all
    rows = run_all(seed=args.seed, quick=args.quick, progress=True)
    print(format_table(rows))
    failed = [r for r in rows if not r["passed"]]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
