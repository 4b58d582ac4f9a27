"""The flat parameter layout shared by kernels, twins and the model.

A network with widths ``sizes = (n_0, ..., n_L)`` stores all its parameters
in one 1-D buffer: for each layer ``l``, ``w_l`` of shape (n_{l+1}, n_l)
row-major, then ``b_l`` of shape (n_{l+1},). Gradients and optimizer state
use the same layout, so zeroing every gradient is one fill and an update is
one pass.
"""


def n_params(sizes):
    """Number of scalars in the flat buffer of a network with these widths."""
    return int(sum(int(sizes[l + 1]) * int(sizes[l]) + int(sizes[l + 1]) for l in range(len(sizes) - 1)))


def layer_views(flat, sizes):
    """List of ``(w, b)`` views into ``flat``: w (n_{l+1}, n_l), b (1, n_{l+1})."""
    views = []
    start = 0
    for l in range(len(sizes) - 1):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        w = flat[start:start + n_out * n_in].reshape(n_out, n_in)
        start += n_out * n_in
        b = flat[start:start + n_out].reshape(1, n_out)
        start += n_out
        views.append((w, b))
    return views
