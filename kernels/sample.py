"""The per-sample kernel's compiled worker (``train_epoch_per_sample`` in
``epoch.py``): one thread, on the tile-column layout of ``layout.py`` with
tile columns of SAMPLE_VECTORS vectors (four chains of fused multiply-adds
per row of a layer, ``gemm.sample_forward``/``sample_update``)."""
import numpy as np

from jitprop.kernels.activations import activation_gradient_cols, bias_activation_cols
from jitprop.kernels.config import jit
from jitprop.kernels.gemm import sample_forward, sample_update
from jitprop.kernels.layout import (
    P_A, P_B, P_DZ, P_IN, P_IP, P_OP, P_OUT, P_WT, laid_out,
)
from jitprop.kernels.losses import batch_cost
from jitprop.kernels.optimizers import step_constants, update_scaled
from jitprop.kernels.simd import view2d, vlanes
from jitprop.kernels.worker import _loss_task, finite_mark

SAMPLE_VECTORS = 4


@jit
def _per_sample_worker(params, state, acts, loss_kind, opt_kind, hyper, step, xf, y, order, lrs, costs, plan, wt, st,
                       ws, row_costs):
    """``train_epoch_per_sample`` on the transposed layout of ``_epoch_worker``
    (one thread): per sample the forward pass, the loss, then from the last
    layer down one pass over each layer's WT that takes the input gradient
    (old weights) and steps every row; the first layer's pass also makes
    the next sample's first product, so those weights are read once per
    sample."""
    n_layers = plan.shape[0]
    n = order.shape[0]
    group = SAMPLE_VECTORS * vlanes(wt)
    one = wt.dtype.type(1)
    n_in0, op0, a0 = plan[0, P_IN], plan[0, P_OP], plan[0, P_A]
    if n > 0:
        for c in range(0, op0, group):
            sample_forward(ws, a0 + c, xf, order[0] * n_in0, n_in0, wt, plan[0, P_WT] + c * n_in0, group)
    for k in range(n):
        for l in range(n_layers):
            n_in, n_out, op, z = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_A]
            if l > 0:
                for c in range(0, op, group):
                    sample_forward(ws, z + c, ws, plan[l - 1, P_A], n_in, wt, plan[l, P_WT] + c * n_in, group)
            bias_activation_cols(view2d(ws, z, 1, op),
                                 view2d(params, plan[l, P_B], 1, n_out), acts[l], 0, 1, 0,
                                 n_out)
        row_costs[k] = finite_mark(xf, order[k] * n_in0, n_in0)  # NaN for a row of x not all finite: stop
        _loss_task(acts, loss_kind, y, order, k, 1, ws, row_costs, plan, 0, 1)
        cost = batch_cost(loss_kind, row_costs[k], 1, plan[n_layers - 1, P_OUT])
        costs[k] = cost
        if not np.isfinite(cost):
            break
        cst = step_constants(wt, opt_kind, hyper, lrs[k], step + k + 1)
        for l in range(n_layers - 1, -1, -1):
            n_in, n_out, op, dz = plan[l, P_IN], plan[l, P_OUT], plan[l, P_OP], plan[l, P_DZ]
            update_scaled(params, state, opt_kind, cst, plan[l, P_B], one, ws[dz:dz + n_out])
            if l > 0:
                below, a_below = plan[l - 1, P_DZ], plan[l - 1, P_A]
                ws[below:below + n_in] = 0
                for c in range(0, op, group):
                    sample_update(wt, st, opt_kind, cst, plan[l, P_WT] + c * n_in, group, n_in, ws, a_below, ws, dz + c,
                                  ws, below, True, ws, 0, ws, 0, False)
                ip = plan[l, P_IP]
                activation_gradient_cols(view2d(ws, below, 1, ip),
                                         view2d(ws, a_below, 1, ip), acts[l - 1], 0, 1, 0, n_in)
            else:
                forward = k + 1 < n
                xno = order[k + 1] * n_in0 if forward else 0
                for c in range(0, op, group):
                    sample_update(wt, st, opt_kind, cst, plan[0, P_WT] + c * n_in, group, n_in, xf, order[k] * n_in0,
                                  ws, dz + c, ws, 0, False, xf, xno, ws, a0 + c, forward)


def run_per_sample(params, state, sizes, acts, loss_kind, opt_kind, hyper, step, x, y, order, lrs, costs):
    """Lay the weights out, run ``_per_sample_worker``, lay them back."""
    # no W copies: its updates take the input gradient on the way
    with laid_out(params, state, sizes, 1, SAMPLE_VECTORS, copies=False) as (plan, wt, st, ws):
        _per_sample_worker(params, state, acts, loss_kind, opt_kind, hyper, step, x.reshape(-1), y, order, lrs,
                           costs, plan, wt, st, ws, np.empty(order.shape[0]))
