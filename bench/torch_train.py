"""The default ``jitprop train`` run done by a plain PyTorch script: same
network, initial weights, data, sample order, learning-rate schedule and
epochs. Prints per-epoch time, the test accuracy and the wall time, so the
end-to-end comparison in the issue notes can be reproduced:

    python -m jitprop.bench.torch_train
"""
import sys
import time


def main():
    t_start = time.perf_counter()
    from jitprop.bench.peers import require
    torch = require("torch", "python -m jitprop.bench.torch_train")
    import numpy as np

    import jitprop
    from jitprop.data import mnist_arrays
    from jitprop.presets import PRESETS
    from jitprop.bench.workloads import run_torch, torch_model
    from jitprop.threads import default_threads

    cfg = PRESETS["default"]
    dtype = np.dtype(cfg["dtype"]).type
    sizes = jitprop.parse_layers(cfg["layers"])
    threads = default_threads(cfg["batch_size"], sizes)
    torch.set_num_threads(threads)
    net = jitprop.mlp(sizes, cfg["activation"], "softmax", cfg["init_sigma"], 0, "numba", dtype)
    d = mnist_arrays(dtype, cfg["val_size"])
    model = torch_model(net, "default")  # same layers and initial weights as `jitprop train`
    rng = np.random.default_rng(0)
    lr = cfg["lr"]
    for epoch in range(1, cfg["epochs"] + 1):
        order = rng.permutation(len(d["x_train"])).astype(np.int64)
        t0 = time.perf_counter()
        run_torch(model, "default", d["x_train"], d["y_train"], order, cfg["batch_size"], lr)
        print(f"epoch {epoch}/{cfg['epochs']}  {time.perf_counter() - t0:.2f} s", flush=True)
        lr *= cfg["lr_decay"]
    with torch.no_grad():
        pred = model(torch.from_numpy(d["x_test"])).argmax(dim=1).numpy()
    acc = float((pred == d["y_test"]).mean())
    print(f"torch {torch.__version__}, {threads} thread(s), total {time.perf_counter() - t_start:.2f} s",
          file=sys.stderr)
    print(f"test accuracy: {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
