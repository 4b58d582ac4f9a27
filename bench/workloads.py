"""The training workloads the benchmarks time, and the PyTorch peer (the
JAX peer is in ``jax_workloads.py``).

Every implementation gets the same network (same initial weights), the same
data and the same sample order, so they can be checked for equal results
before they are timed.
"""
import numpy as np

import jitprop
from jitprop.threads import default_threads

ARCHS = {
    # the seed notebooks' network (Hamlet's task 5)
    "seed": dict(sizes=[784, 128, 32, 10], activation="sigmoid", cost="mse", lr=0.01, init=0.1),
    # a wide ReLU network, where the products dominate (jitprop train's default
    # until the default became 784-128-10 with Adam)
    "wide": dict(sizes=[784, 512, 10], activation="relu", cost="cross-entropy", lr=0.003, init="he"),
}
# jitprop's implementations, then the peers: PyTorch and JAX (jax_workloads.JAX_IMPLS).
IMPLS = ("per-sample", "per-sample-jit", "batched", "jit", "fused", "torch", "jax-jit", "jax-scan")
PEERS = ("torch", "jax-jit", "jax-scan")
BATCHES = (1, 12, 64, 600)
DTYPES = ("float32", "float64")
N_FULL = 50000
N_QUICK = 5000


def batches_for(impl):
    return (1,) if impl.startswith("per-sample") else BATCHES


def jitprop_side(batch_size):
    """jitprop's implementation against JAX's lax.scan epoch at a batch size
    (``test_alternating.py``): the compiled per-sample loop at batch 1, the
    whole-epoch kernel above, as ``jitprop.model.impls.default_impl`` picks
    for a plain network."""
    return "per-sample-jit" if batch_size == 1 else "fused"


def make_net(arch, dtype, seed=0):
    a = ARCHS[arch]
    output = "softmax" if a["cost"] == "cross-entropy" else "sigmoid"
    net = jitprop.mlp(a["sizes"], a["activation"], output, a["init"], seed, "numba", np.dtype(dtype).type)
    cost = jitprop.CrossEntropy() if a["cost"] == "cross-entropy" else jitprop.MeanSquareError()
    return net, cost


def threads_for(arch, batch_size):
    """The thread count of a row, the same for every implementation and
    peer: BLAS's rule (1 thread below 2M multiply-adds per step), which
    gives the table of issue 14 (batch 1 and 12 on one thread, 64 and 600
    on two). ``jitprop train`` uses two threads from 300k for the fused
    kernel (``jitprop.threads``)."""
    return default_threads(batch_size, ARCHS[arch]["sizes"], "jit")


def epoch_order(n, seed=0):
    """The order ``jitprop.train`` uses for its first epoch with this seed."""
    return np.random.default_rng(seed).permutation(n).astype(np.int64)


def run_jitprop(impl, net, cost, x, y, batch_size, lr, seed=0):
    """One epoch through ``jitprop.train``; returns the net."""
    jitprop.train(net, cost, x, y, epochs=1, batch_size=batch_size, learning_rate=lr, seed=seed,
                  impl=impl, progress=False)
    return net


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_model(net, activation, cost):
    """A torch.nn.Sequential with the same layers and initial weights as
    ``net``: ``activation`` (relu or sigmoid) between the layers, a sigmoid
    output for ``cost="mse"``, logits for the cross-entropy."""
    import torch
    tdtype = torch.float32 if net.dtype == np.float32 else torch.float64
    layers = []
    for i, lin in enumerate(net.linears):
        t = torch.nn.Linear(lin.n_in, lin.n_out, dtype=tdtype)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(lin.w.copy()))
            t.bias.copy_(torch.from_numpy(lin.b[0].copy()))
        layers.append(t)
        last = i == len(net.linears) - 1
        if not last:
            layers.append(torch.nn.Sigmoid() if activation == "sigmoid" else torch.nn.ReLU())
        elif cost == "mse":
            layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def run_torch(model, arch, x, labels, order, batch_size, lr):
    """One epoch of torch.optim.SGD with the seed's conventions: the loss is
    the batch *sum* of per-sample costs, so its gradient is jitprop's."""
    import torch
    a = ARCHS[arch]
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(labels.astype(np.int64))
    onehot = torch.nn.functional.one_hot(yt, 10).to(xt.dtype)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    ot = torch.from_numpy(order)
    for s in range(0, len(order), batch_size):
        idx = ot[s:s + batch_size]
        opt.zero_grad(set_to_none=False)
        out = model(xt[idx])
        if a["cost"] == "mse":
            loss = 0.5 * ((out - onehot[idx]) ** 2).sum()
        else:
            loss = torch.nn.functional.cross_entropy(out, yt[idx], reduction="sum")
        loss.backward()
        opt.step()
    return model


def torch_params(model):
    """The model's parameters flattened in jitprop's layout (w then b per layer)."""
    import torch
    parts = []
    for m in model:
        if isinstance(m, torch.nn.Linear):
            parts += [m.weight.detach().numpy().ravel(), m.bias.detach().numpy().ravel()]
    return np.concatenate(parts)
