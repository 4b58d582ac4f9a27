"""`jitprop data`: fetch, verify and import data sets."""


def add_data(sub):
    p = sub.add_parser("data", help="fetch, verify or import the MNIST cache",
                       description="Manage the MNIST cache in $JITPROP_DATA_DIR (default ~/.cache/jitprop).")
    dsub = p.add_subparsers(dest="action", required=True)
    v = dsub.add_parser("verify", help="fetch if needed, then check every array's SHA-256")
    v.set_defaults(func=cmd_data_verify)
    i = dsub.add_parser("import-idx", help="build the cache from the original IDX files in FOLDER")
    i.add_argument("folder")
    i.set_defaults(func=cmd_data_import)
    w = dsub.add_parser("path", help="print the cache folder")
    w.set_defaults(func=lambda a: print(__import__("jitprop.data", fromlist=["data_dir"]).data_dir()) or 0)


def cmd_data_verify(args):
    from jitprop.data.mnist import KEYS, SHA256, load_mnist, sha256
    arrays = dict(zip(KEYS, load_mnist()))
    for k in KEYS:
        ok = sha256(arrays[k]) == SHA256[k]
        print(f"{k:8} {str(arrays[k].shape):12} sha256 {'ok' if ok else 'MISMATCH'}")
        if not ok:
            return 1
    return 0


def cmd_data_import(args):
    from jitprop.data import load_mnist
    try:
        x_train, _, x_test, _ = load_mnist(idx_dir=args.folder)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"jitprop data import-idx: {exc}")
    print(f"imported {x_train.shape[0]} training and {x_test.shape[0]} test images")
    return 0
