"""The side-by-side table (and plot) built from a pytest-benchmark JSON file."""
import json

from jitprop.bench.workloads import IMPLS

TORCH_MISSING = "not installed"


def _best(bench):
    # The fastest round: on a shared machine the slower rounds measure the
    # neighbours (two-thread cases ran anywhere from 170k to 300k samples/s
    # in one minute here), and every implementation gets the same rule.
    return bench["stats"]["min"]


def build_rows(data, torch_installed=True):
    """Rows of the report from pytest-benchmark's JSON (a dict).

    Each training row: arch, impl, dtype, batch, samples/s, speedup over
    per-sample NumPy (same arch and dtype), ratio to PyTorch at the same
    batch, GFLOP/s and percent of the GEMM rate of its dtype. Timings are
    the fastest of the timed rounds.
    """
    benches = data["benchmarks"]
    gemm = {b["extra_info"]["dtype"]: b["extra_info"]["flops"] / _best(b) / 1e9
            for b in benches if b["extra_info"].get("kind") == "gemm"}
    train = [b for b in benches if b["extra_info"].get("kind") == "training"]
    rate = {}
    for b in train:
        e = b["extra_info"]
        rate[(e["arch"], e["impl"], e["dtype"], e["batch_size"])] = e["samples"] / _best(b)
    rows = []
    for b in train:
        e = b["extra_info"]
        key = (e["arch"], e["impl"], e["dtype"], e["batch_size"])
        sps = rate[key]
        base = rate.get((e["arch"], "per-sample", e["dtype"], 1))
        peer = rate.get((e["arch"], "torch", e["dtype"], e["batch_size"]))
        gflops = e["flops"] / _best(b) / 1e9
        rows.append({
            "arch": e["arch"], "impl": e["impl"], "dtype": e["dtype"], "batch": e["batch_size"],
            "threads": e.get("threads"), "samples_per_second": sps,
            "speedup_vs_per_sample": sps / base if base else None,
            "vs_torch": sps / peer if peer else (TORCH_MISSING if not torch_installed else None),
            "gflops": gflops, "pct_gemm": 100 * gflops / gemm[e["dtype"]] if e["dtype"] in gemm else None,
            "warmup_seconds": e.get("warmup_seconds"),
        })
    if not torch_installed:
        seen = {(r["arch"], r["dtype"], r["batch"]) for r in rows if r["impl"] != "torch"}
        for arch, dtype, batch in sorted(seen):
            rows.append({"arch": arch, "impl": "torch", "dtype": dtype, "batch": batch, "threads": None,
                         "samples_per_second": None, "speedup_vs_per_sample": None, "vs_torch": TORCH_MISSING,
                         "gflops": None, "pct_gemm": None, "warmup_seconds": None})
    order = {name: i for i, name in enumerate(IMPLS)}
    rows.sort(key=lambda r: (r["arch"], r["dtype"], r["batch"], order.get(r["impl"], 99)))
    return rows, gemm


def _fmt(value, spec, missing="-"):
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return format(value, spec)


def format_table(rows, gemm):
    head = (f"{'network':<8} {'impl':<15} {'dtype':<8} {'batch':>5} {'thr':>3} {'samples/s':>11} "
            f"{'x per-sample':>12} {'x torch':>13} {'GFLOP/s':>8} {'% GEMM':>7} {'warm-up s':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['arch']:<8} {r['impl']:<15} {r['dtype']:<8} {r['batch']:>5} {_fmt(r['threads'], 'd'):>3} "
            f"{_fmt(r['samples_per_second'], ',.0f', 'not installed'):>11} "
            f"{_fmt(r['speedup_vs_per_sample'], '.1f'):>12} {_fmt(r['vs_torch'], '.2f'):>13} "
            f"{_fmt(r['gflops'], '.2f'):>8} {_fmt(r['pct_gemm'], '.1f'):>7} {_fmt(r['warmup_seconds'], '.2f'):>9}")
    lines.append("warm-up s: the case's first run, the check against the reference on 240 samples or two "
                 "minibatches (compiling or loading the kernels included); samples/s: the fastest timed round")
    for dt, g in sorted(gemm.items()):
        lines.append(f"GEMM rate {dt}: {g:.1f} GFLOP/s (2048 x 2048, all cores, NumPy's BLAS)")
    return "\n".join(lines)


def load(path):
    with open(path) as f:
        return json.load(f)


def plot(rows, path):
    """Samples per second against batch size, one line per implementation,
    log scales, one panel per network and dtype. Needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('--plot needs matplotlib: pip install -e ".[plot]"') from exc
    panels = sorted({(r["arch"], r["dtype"]) for r in rows if r["samples_per_second"]})
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.5 * ncols, 4.8 * nrows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (arch, dtype) in zip(axes.flat, panels):
        for impl in IMPLS:
            pts = sorted((r["batch"], r["samples_per_second"]) for r in rows
                         if r["arch"] == arch and r["dtype"] == dtype and r["impl"] == impl and r["samples_per_second"])
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o", label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples per second")
        ax.set_title(f"{arch} network, {dtype}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
