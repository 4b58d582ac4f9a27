"""The side-by-side table (and plot) built from a pytest-benchmark JSON file."""
import json

from jitprop.bench import sklearn_workloads as SW  # importing it does not import scikit-learn
from jitprop.bench.jax_workloads import JAX_IMPLS  # names only: importing it does not import JAX
from jitprop.bench.workloads import IMPLS

MISSING = "not installed"
TORCH_MISSING = MISSING
# The JAX row the "x jax" column divides by: the epoch as one compiled lax.scan.
JAX_PEER = "jax-scan"


def _best(bench):
    # The fastest round: on a shared machine the slower rounds measure the
    # neighbours (two-thread cases ran anywhere from 170k to 300k samples/s
    # in one minute here), and every implementation gets the same rule.
    return bench["stats"]["min"]


def _missing_row(arch, impl, dtype, batch, torch_installed, jax_installed):
    return {"arch": arch, "impl": impl, "dtype": dtype, "batch": batch, "load": "", "threads": None,
            "samples_per_second": None, "speedup_vs_per_sample": None,
            "vs_torch": None if torch_installed else MISSING, "vs_jax": None if jax_installed else MISSING,
            "gflops": None, "pct_gemm": None, "warmup_seconds": None, "share_of_quiet": None}


def build_rows(data, torch_installed=True, jax_installed=True, sklearn_installed=None):
    """Rows of the report from pytest-benchmark's JSON (a dict).

    Each training row: arch, impl, dtype, batch, load ("" on the machine as
    it is, else what else ran, e.g. "1 core busy"), samples/s, speedup over
    per-sample NumPy (same arch and dtype; quiet rows only), ratios to
    PyTorch and to JAX's lax.scan epoch at the same batch and load, GFLOP/s,
    percent of the GEMM rate of its dtype, and for loaded rows the share of
    the same case's quiet samples/s. Timings are the fastest of the timed
    rounds. A peer that is not installed gets "not installed" rows and
    ratios. The scikit-learn side by side adds its own rows (``sklearn_rows``;
    ``sklearn_installed`` None: looked up).
    """
    benches = data["benchmarks"]
    gemm = {b["extra_info"]["dtype"]: b["extra_info"]["flops"] / _best(b) / 1e9
            for b in benches if b["extra_info"].get("kind") == "gemm"}
    train = [b for b in benches if b["extra_info"].get("kind") == "training"]
    rate = {}
    for b in train:
        e = b["extra_info"]
        rate[(e["arch"], e["impl"], e["dtype"], e["batch_size"], e.get("load", ""))] = e["samples"] / _best(b)

    def ratio(sps, key, installed):
        peer = rate.get(key)
        return sps / peer if peer else (None if installed else MISSING)

    rows = []
    for b in train:
        e = b["extra_info"]
        arch, dtype, batch, load = e["arch"], e["dtype"], e["batch_size"], e.get("load", "")
        sps = rate[(arch, e["impl"], dtype, batch, load)]
        base = None if load else rate.get((arch, "per-sample", dtype, 1, ""))
        quiet = rate.get((arch, e["impl"], dtype, batch, "")) if load else None
        gflops = e["flops"] / _best(b) / 1e9
        rows.append({
            "arch": arch, "impl": e["impl"], "dtype": dtype, "batch": batch, "load": load,
            "threads": e.get("threads"), "samples_per_second": sps,
            "speedup_vs_per_sample": sps / base if base else None,
            "vs_torch": ratio(sps, (arch, "torch", dtype, batch, load), torch_installed),
            "vs_jax": ratio(sps, (arch, JAX_PEER, dtype, batch, load), jax_installed),
            "gflops": gflops, "pct_gemm": 100 * gflops / gemm[dtype] if dtype in gemm else None,
            "warmup_seconds": e.get("warmup_seconds"),
            "share_of_quiet": sps / quiet if quiet else None,
        })
    missing = ([] if torch_installed else ["torch"]) + ([] if jax_installed else list(JAX_IMPLS))
    seen = sorted({(r["arch"], r["dtype"], r["batch"]) for r in rows if r["impl"] not in missing and not r["load"]})
    rows += [_missing_row(arch, impl, dtype, batch, torch_installed, jax_installed)
             for arch, dtype, batch in seen for impl in missing]
    order = {name: i for i, name in enumerate(IMPLS)}
    rows.sort(key=lambda r: (r["arch"], r["dtype"], r["batch"], r["load"], order.get(r["impl"], 99)))
    rows += alternating_rows(data)
    rows += sklearn_rows(data, SW.sklearn_available() if sklearn_installed is None else sklearn_installed)
    return rows, gemm


def alternating_rows(data):
    """Pairs timed by turns (``kind`` "alternating"): jitprop and JAX
    (``bench/test_alternating.py``) and, with a ``load``, jitprop at two
    thread counts (``bench/test_shared.py``); one row per pair with each
    side's fastest epoch as samples/s and their ratio, first over second."""
    rows = []
    for b in data["benchmarks"]:
        e = b["extra_info"]
        if e.get("kind") == "alternating":
            ours, peer = (e["samples"] / s for s in e["best_seconds"])
            rows.append({"kind": "alternating", "arch": e["arch"], "dtype": e["dtype"], "batch": e["batch_size"],
                         "threads": e["threads"], "threads_each": e.get("threads_each", [e["threads"]] * 2),
                         "load": e.get("load", ""), "rounds": len(e["seconds"][0]), "impl": e["impls"][0],
                         "peer": e["impls"][1], "samples_per_second": ours, "peer_samples_per_second": peer,
                         "ratio": ours / peer})
    return sorted(rows, key=lambda r: (r["load"], r["arch"], r["dtype"], r["batch"]))


def format_alternating(rows):
    """The tables of ``alternating_rows``: jitprop against JAX, then any
    pair timed under a load (``format_loaded_turns``)."""
    loaded = [r for r in rows if r["load"]]
    rows = [r for r in rows if not r["load"]]
    lines = []
    if rows:
        lines = [f"jitprop and {JAX_PEER} by turns: each round runs both epochs (the order alternating), "
                 "from the same weights; fastest round of each"]
        head = (f"{'network':<8} {'dtype':<8} {'batch':>5} {'thr':>3} {'rounds':>6} {'jitprop':<15} "
                f"{'samples/s':>13} {JAX_PEER + ' samples/s':>19} {'x jax':>7}")
        lines += [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['arch']:<8} {r['dtype']:<8} {r['batch']:>5} {r['threads']:>3} {r['rounds']:>6} "
                     f"{r['impl']:<15} {r['samples_per_second']:>13,.0f} {r['peer_samples_per_second']:>19,.0f} "
                     f"{r['ratio']:>7.2f}")
    if loaded:
        lines += ([""] if lines else []) + [format_loaded_turns(loaded)]
    return "\n".join(lines)


def format_loaded_turns(rows):
    """Pairs timed by turns under a load: the same implementation at two
    thread counts (``bench/test_shared.py``), the ratio first over second."""
    lines = ["under load, by turns: each round runs the epoch at both thread counts (the order alternating), "
             "from the same weights; fastest round of each"]
    wl = max([4] + [len(r["load"]) for r in rows])
    wi = max([4] + [len(r["impl"]) for r in rows])
    head = (f"{'network':<8} {'dtype':<8} {'batch':>5} {'load':<{wl}} {'rounds':>6} {'impl':<{wi}} "
            f"{'threads':>7} {'samples/s':>11} {'threads':>7} {'samples/s':>11} {'ratio':>6}")
    lines += [head, "-" * len(head)]
    for r in rows:
        (t0, t1) = r["threads_each"]
        lines.append(f"{r['arch']:<8} {r['dtype']:<8} {r['batch']:>5} {r['load']:<{wl}} {r['rounds']:>6} "
                     f"{r['impl']:<{wi}} {t0:>7} {r['samples_per_second']:>11,.0f} {t1:>7} "
                     f"{r['peer_samples_per_second']:>11,.0f} {r['ratio']:>6.2f}")
    return "\n".join(lines)


def sklearn_rows(data, installed=True):
    """The scikit-learn side by side (``kind`` "sklearn"), one row per peer
    and thread count, scikit-learn first: threads, the dtype it trained in,
    fit seconds (the fastest round: one whole fit), samples/s (rows x
    epochs / seconds), test accuracy, and for jitprop the speed ratio to
    scikit-learn and the accuracy difference in points at the same threads.
    Without scikit-learn (and so without jitprop's estimator), one "not
    installed" row per thread count."""
    if not installed:
        return [{"kind": "sklearn", "peer": "sklearn", "threads": t, "dtype": None, "fit_seconds": None,
                 "samples_per_second": None, "accuracy": None, "vs_sklearn": MISSING, "accuracy_gap": None}
                for t in SW.THREADS]
    found = {}
    for b in data["benchmarks"]:
        e = b["extra_info"]
        if e.get("kind") == "sklearn":
            found[(e["peer"], e["threads"])] = {
                "kind": "sklearn", "peer": e["peer"], "threads": e["threads"], "dtype": e["dtype"],
                "fit_seconds": _best(b), "samples_per_second": e["samples"] / _best(b), "accuracy": e["accuracy"],
                "vs_sklearn": None, "accuracy_gap": None}
    for (peer, threads), r in found.items():
        ref = found.get(("sklearn", threads))
        if peer != "sklearn" and ref is not None:
            r["vs_sklearn"] = r["samples_per_second"] / ref["samples_per_second"]
            r["accuracy_gap"] = 100 * (r["accuracy"] - ref["accuracy"])
    return sorted(found.values(), key=lambda r: (r["threads"], SW.PEERS.index(r["peer"])))


def peer_versions(data):
    """{"torch": version, "jax": version} of the run, when the suite recorded them."""
    return data.get("machine_info", {}).get("jitprop_peers", {})


def _fmt(value, spec, missing="-"):
    if value is None:
        return missing
    if isinstance(value, str):
        return value
    return format(value, spec)


def _label(r):
    return f"{r['impl']} ({r['load']})" if r["load"] else r["impl"]


def format_table(rows, gemm, peers=None):
    side = [r for r in rows if r.get("kind") == "sklearn"]
    turns = [r for r in rows if r.get("kind") == "alternating"]
    rows = [r for r in rows if r.get("kind") not in ("sklearn", "alternating")]
    w = max([15] + [len(_label(r)) for r in rows])
    head = (f"{'network':<8} {'impl':<{w}} {'dtype':<8} {'batch':>5} {'thr':>3} {'samples/s':>13} "
            f"{'x per-sample':>12} {'x torch':>13} {'x jax':>13} {'GFLOP/s':>8} {'% GEMM':>7} {'warm-up s':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['arch']:<8} {_label(r):<{w}} {r['dtype']:<8} {r['batch']:>5} {_fmt(r['threads'], 'd'):>3} "
            f"{_fmt(r['samples_per_second'], ',.0f', MISSING):>13} "
            f"{_fmt(r['speedup_vs_per_sample'], '.1f'):>12} {_fmt(r['vs_torch'], '.2f'):>13} "
            f"{_fmt(r['vs_jax'], '.2f'):>13} "
            f"{_fmt(r['gflops'], '.2f'):>8} {_fmt(r['pct_gemm'], '.1f'):>7} {_fmt(r['warmup_seconds'], '.2f'):>9}")
    lines.append("warm-up s: the case's first run, the check against the reference on 240 samples or two "
                 "minibatches (compiling or loading the kernels included; JAX: plus compiling the full "
                 "epoch's shapes); samples/s: the fastest timed round")
    lines.append(f"x torch, x jax: samples/s over the torch row's and the {JAX_PEER} row's (the epoch as one "
                 "compiled lax.scan) at the same network, dtype, batch and load")
    for r in rows:
        if r["share_of_quiet"] is not None:
            quiet = r["samples_per_second"] / r["share_of_quiet"]
            lines.append(f"{r['load']}: {r['arch']} {r['dtype']} batch {r['batch']} {r['impl']} ran at "
                         f"{r['samples_per_second']:,.0f} samples/s, {100 * r['share_of_quiet']:.0f}% of "
                         f"its {quiet:,.0f} without the load")
    for dt, g in sorted(gemm.items()):
        lines.append(f"GEMM rate {dt}: {g:.1f} GFLOP/s (2048 x 2048, all cores, NumPy's BLAS)")
    if turns:
        lines += ["", format_alternating(turns)]
    if side:
        lines += ["", format_sklearn(side)]
    if peers:
        lines.append("peers: " + ", ".join(f"{name} {v}" for name, v in sorted(peers.items())))
    return "\n".join(lines)


def format_sklearn(rows):
    """The side-by-side table of ``sklearn_rows``."""
    s = SW.SETTINGS
    lines = [f"scikit-learn side by side: MLPClassifier on MNIST, 784-{s['hidden_layer_sizes'][0]}-10 "
             f"{s['activation']}, {s['solver']} lr {s['learning_rate_init']}, batch {s['batch_size']}, "
             f"{SW.EPOCHS} epochs, no early stopping"]
    head = (f"{'peer':<8} {'thr':>3} {'dtype':<8} {'fit s':>7} {'samples/s':>13} {'test acc %':>10} "
            f"{'x sklearn':>13} {'acc - sklearn':>13}")
    lines += [head, "-" * len(head)]
    for r in rows:
        acc = None if r["accuracy"] is None else 100 * r["accuracy"]
        lines.append(f"{r['peer']:<8} {r['threads']:>3} {_fmt(r['dtype'], 's'):<8} {_fmt(r['fit_seconds'], '.2f'):>7} "
                     f"{_fmt(r['samples_per_second'], ',.0f', MISSING):>13} {_fmt(acc, '.2f'):>10} "
                     f"{_fmt(r['vs_sklearn'], '.2f'):>13} {_fmt(r['accuracy_gap'], '+.2f'):>13}")
    lines.append("fit s: the fastest of the timed fits (all epochs); x sklearn: samples/s over scikit-learn's at the "
                 "same threads; acc - sklearn: test accuracy difference in points")
    return "\n".join(lines)


# Networks renamed since a stored run was written: old name -> new name.
RENAMED_ARCHS = {"default": "wide"}


def load(path):
    """A pytest-benchmark JSON file, with old network names brought up to date
    (so --compare matches the cases of runs from before a rename)."""
    with open(path) as f:
        data = json.load(f)
    for b in data.get("benchmarks", []):
        e = b.get("extra_info", {})
        if e.get("arch") in RENAMED_ARCHS:
            e["arch"] = RENAMED_ARCHS[e["arch"]]
    return data


def plot(rows, path):
    """Samples per second against batch size, one line per implementation,
    log scales, one panel per network and dtype. Needs matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('--plot needs matplotlib: pip install "jitprop[plot]"') from exc
    rows = [r for r in rows if r.get("kind") not in ("sklearn", "alternating")]  # those are in the table only
    rows = [r for r in rows if not r["load"]]  # the machine as it is; loaded rows are in the table
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


def compact(data):
    """The JSON without pytest-benchmark's raw per-round timings (the bulk of
    the file: 100 MB for a full run); the statistics stay."""
    out = dict(data)
    out["benchmarks"] = [{**b, "stats": {k: v for k, v in b["stats"].items() if k != "data"}}
                         for b in data["benchmarks"]]
    return out


def environment():
    """Versions, CPU and thread settings of this run, for the JSON."""
    import os
    import platform

    import numba
    import numpy
    import scipy
    from threadpoolctl import threadpool_info

    import jitprop
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"jitprop": jitprop.__version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__, "cpu": cpu, "cores": os.cpu_count(),
            "blas": [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "filepath")}
                     for p in threadpool_info()],
            "numba_threading_layer": numba.config.THREADING_LAYER,
            "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                                       "NUMBA_NUM_THREADS") if k in os.environ}}


def case_key(b):
    e = b["extra_info"]
    if e.get("kind") == "training":
        return ("training", e["arch"], e["impl"], e["dtype"], e["batch_size"], e.get("load", ""))
    return (e.get("kind"), b.get("name"))


def compare(old, new):
    """Rows ``(case, old seconds, new seconds, new speed / old speed)`` for the
    cases both runs timed (fastest rounds), in the new run's order."""
    before = {case_key(b): _best(b) for b in old["benchmarks"]}
    rows = []
    for b in new["benchmarks"]:
        key = case_key(b)
        if key in before:
            rows.append((key, before[key], _best(b), before[key] / _best(b)))
    return rows


def format_compare(rows, old_name, new_name):
    lines = [f"{'case':<58} {'before s':>10} {'after s':>10} {'speed-up':>9}", "-" * 90]
    for key, a, b, r in rows:
        name = " ".join(str(k) for k in key[1:] if k != "")
        lines.append(f"{name:<58} {a:>10.4f} {b:>10.4f} {r:>8.2f}x")
    lines.append(f"speed-up: {old_name}'s fastest round over {new_name}'s, per case both timed "
                 f"({len(rows)} cases)")
    return "\n".join(lines)
