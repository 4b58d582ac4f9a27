"""A `jitprop train` run done by a plain PyTorch script: the same network,
initial weights, data, sample order, optimizer (torch.optim.Adam or SGD),
per-step learning rates and epochs, from the same flags (default: the
default run, 784-128-10 ReLU, Adam lr 0.002 on the batch-mean loss, cosine
schedule, batch 64, 6 epochs). Prints per-epoch seconds, then the wall time
(command start to exit, imports included) and the test accuracy, so the
end-to-end comparison can be reproduced:

    python -m jitprop.bench.torch_train [jitprop train flags]

Threads: torch.set_num_threads(N) with N as jitprop chooses for the run
(or --threads).
"""
import sys
import time


def main(argv=None):
    t_start = time.perf_counter()
    from jitprop.bench.peers import require
    torch = require("torch", "python -m jitprop.bench.torch_train")
    import numpy as np

    from jitprop.bench import peer_run
    from jitprop.bench.workloads import torch_model, torch_params

    cfg, args = peer_run.parse("python -m jitprop.bench.torch_train", argv, __doc__)
    run = peer_run.prepare(cfg)
    peer_run.describe(run)
    torch.set_num_threads(run.threads)
    d, opt_cfg = run.data, run.optimizer
    model = torch_model(run.net, cfg.activation, cfg.cost)  # the same layers and initial weights
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=opt_cfg.lr, betas=(opt_cfg.beta1, opt_cfg.beta2),
                               eps=opt_cfg.eps)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=opt_cfg.lr)
    x = torch.from_numpy(d["x_train"])
    labels = torch.from_numpy(d["y_train"].astype(np.int64))
    onehot = torch.nn.functional.one_hot(labels, d["n_classes"]).to(x.dtype)
    reduction = "mean" if cfg.mean_loss else "sum"
    for epoch, order, lrs in peer_run.epochs(run):
        t0 = time.perf_counter()
        order = torch.from_numpy(order)
        for k, s in enumerate(range(0, len(order), cfg.batch_size)):
            idx = order[s:s + cfg.batch_size]
            for group in opt.param_groups:
                group["lr"] = float(lrs[k])
            out = model(x[idx])
            if cfg.cost == "mse":
                loss = 0.5 * ((out - onehot[idx]) ** 2).sum() / (len(idx) if cfg.mean_loss else 1)
            else:
                loss = torch.nn.functional.cross_entropy(out, labels[idx], reduction=reduction)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        print(f"epoch {epoch}/{cfg.epochs}  {time.perf_counter() - t0:.2f} s", flush=True)
    with torch.no_grad():
        pred = model(torch.from_numpy(d["x_test"])).argmax(dim=1).numpy()
    if args.save_params:
        np.save(args.save_params, torch_params(model))
    print(f"torch {torch.__version__}, {run.threads} thread(s), total {time.perf_counter() - t_start:.2f} s",
          file=sys.stderr)
    print(f"test accuracy: {100 * float((pred == d['y_test']).mean()):.2f}%")


if __name__ == "__main__":
    main()
