"""`jitprop data`: fetch, verify and import the named data sets."""
import argparse
import os

DATASETS = ("mnist", "fashion-mnist")


def _folder(text):
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"expected a folder holding the four IDX files, got {text!r} "
                                         "(no such folder)")
    return text


def add_data(sub):
    p = sub.add_parser(
        "data", help="fetch, verify or import MNIST and Fashion-MNIST",
        description="Manage the caches of MNIST and Fashion-MNIST in $JITPROP_DATA_DIR "
                    "(default ~/.cache/jitprop).",
        epilog="Offline, get the four IDX .gz files of a data set, put them in one folder, and run "
               "`jitprop data import fashion-mnist DIR` (or set JITPROP_FASHION_IDX / JITPROP_MNIST_IDX).")
    dsub = p.add_subparsers(dest="action", required=True)
    v = dsub.add_parser("verify", help="fetch if needed, then check every array's SHA-256")
    v.add_argument("--dataset", choices=DATASETS, default="mnist", help="which cache (default: mnist)")
    v.set_defaults(func=cmd_data_verify)
    i = dsub.add_parser("import", help="check the four IDX files in DIR and cache them",
                        description="Check the four published IDX files of DATASET in DIR (MD5 of each "
                                    ".gz, shapes, labels; for MNIST the SHA-256 of the arrays) and cache "
                                    "them. Nothing is cached unless all of it verifies.")
    i.add_argument("dataset", choices=DATASETS)
    i.add_argument("dir", metavar="DIR", type=_folder)
    i.set_defaults(func=cmd_data_import)
    old = dsub.add_parser("import-idx", help="the same as `import mnist FOLDER`")
    old.add_argument("dir", metavar="FOLDER", type=_folder)
    old.set_defaults(func=cmd_data_import, dataset="mnist")
    w = dsub.add_parser("path", help="print the cache folder")
    w.set_defaults(func=cmd_data_path)


def _fail(args, exc):
    """A runtime failure: one line on stderr, exit 1."""
    action = f"{args.action} {args.dataset}" if args.action == "import" else args.action
    raise SystemExit(f"jitprop data {action}: {exc}")


def cmd_data_path(args):
    from jitprop.data import DatasetUnavailable, data_dir
    try:
        print(data_dir())
    except DatasetUnavailable as exc:
        _fail(args, exc)
    return 0


def cmd_data_verify(args):
    from jitprop.data import DatasetUnavailable
    from jitprop.data.cache import data_dir, read_cache, sha256
    from jitprop.data.datasets import KEYS, get

    spec = get(args.dataset)
    loader = _loader(args.dataset)
    try:
        arrays = dict(zip(KEYS, loader()))
        path = data_dir() / spec.cache_name
        stored = read_cache(path, KEYS)[1]
    except (DatasetUnavailable, ValueError, OSError) as exc:
        _fail(args, exc)
    expected = spec.sha256 or stored
    against = "the published table" if spec.sha256 else "the digests stored when it was built"
    print(f"{spec.title} cache {path} (checked against {against}):")
    for k in KEYS:
        ok = sha256(arrays[k]) == expected[k]
        print(f"{k:8} {str(arrays[k].shape):12} sha256 {'ok' if ok else 'MISMATCH'}")
        if not ok:
            return 1
    return 0


def _loader(name):
    if name == "mnist":
        from jitprop.data import load_mnist
        return load_mnist
    from jitprop.data import load_fashion_mnist
    return load_fashion_mnist


def cmd_data_import(args):
    from jitprop.data import DatasetUnavailable
    from jitprop.data.cache import data_dir
    from jitprop.data.datasets import get, import_idx

    spec = get(args.dataset)
    try:
        x_train, _, x_test, _ = import_idx(spec, args.dir)
        where = data_dir() / spec.cache_name
    except (DatasetUnavailable, ValueError, OSError) as exc:
        _fail(args, exc)
    print(f"imported {spec.title}: {x_train.shape[0]} training and {x_test.shape[0]} test images, "
          f"verified, cached at {where}")
    return 0
