"""scikit-learn estimators trained by jitprop's compiled kernels:
``MLPClassifier`` and ``MLPRegressor``.

They take scikit-learn's parameters with scikit-learn's meanings (those of
``sklearn.neural_network.MLPClassifier``/``MLPRegressor`` for the 'sgd' and
'adam' solvers) and keep its fitted attributes in its layout, so they slot
into ``Pipeline``, ``GridSearchCV``, ``clone`` and ``pickle`` unchanged; the
epochs run in jitprop's fused whole-epoch kernels (``impl="fused"``).

The initial weights (scikit-learn's Glorot-uniform draws) and the sample
order (its shuffle) come from ``random_state`` exactly as in scikit-learn,
and the SGD rules (plain, momentum, Nesterov) and stopping rules (tol,
n_iter_no_change, early_stopping, 'adaptive', 'invscaling') are its, so
with ``solver='sgd'`` and ``alpha=0`` a multiclass or regression fit ends
at scikit-learn's weights (float64: within rounding; tests/test_sklearn.py).

Where the two differ (the docstrings of the estimators say it again):

* The loss is the batch mean, as scikit-learn's (``jitprop.train(...,
  mean_loss=True)``); jitprop's own API keeps the seeds' per-sample sums.
* ``alpha``: scikit-learn adds ``alpha / batch_rows * W`` to the gradient of
  the weights only. Here it is jitprop's weight decay ``alpha / batch_size``,
  which the kernels apply to every parameter, biases included (PyTorch's
  convention), and at the same rate in a short last minibatch. With the
  default alpha (1e-4) and batch 200 that is a decay of 5e-7 per step.
* Momentum and Adam follow ``torch.optim`` (the kernels' rules): the same
  as scikit-learn's at a constant learning rate, up to where Adam adds
  epsilon (after the bias correction, not before).
* ``loss_curve_``: the mean of the epoch's minibatch losses (scikit-learn
  weights a short last minibatch by its rows) plus the L2 term of the
  weights at the end of the epoch (scikit-learn: at each step).
* Two classes train as a two-way softmax, the same model as scikit-learn's
  single logistic unit: ``coefs_[-1]`` (n_hidden, 1) and ``intercepts_[-1]``
  (1,) hold that unit (the difference of the two softmax rows), so
  ``out_activation_`` is 'logistic' and scikit-learn's forward pass on
  ``coefs_`` gives the same probabilities. Initialised symmetrically, the
  two rows stay opposite, and the unit they make learns at twice the rate.
* Multilabel targets (an indicator matrix (n_samples, n_labels)) train
  logistic outputs with the summed binary cross-entropy, as scikit-learn's,
  on the ``jit`` implementation (the model layer on the compiled kernels:
  the fused kernels have no sigmoid cross-entropy). Multioutput regression
  (y (n_samples, n_outputs)) runs fused. Multiclass-multioutput targets are
  not supported (neither are they in scikit-learn's MLP).
* Not supported: ``solver='lbfgs'`` (and so ``max_fun``), sparse inputs,
  ``sample_weight``, and MLPRegressor's ``loss='poisson'``.

Without scikit-learn, importing this module raises one ImportError that
names ``pip install "jitprop[sklearn]"``; ``import jitprop`` does not import
scikit-learn (``jitprop.MLPClassifier`` is looked up on first use).
"""
import numbers
import warnings

import numpy as np

EXTRA = 'pip install "jitprop[sklearn]"'

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state, shuffle
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d
except ImportError as exc:  # pragma: no cover - exercised by tests/test_sklearn.py with the import blocked
    raise ImportError(f"jitprop.MLPClassifier and jitprop.MLPRegressor need scikit-learn, which is not "
                      f"installed: {EXTRA}") from exc

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - scikit-learn 1.3 to 1.5
    def _validate_data(estimator, *args, **kw):
        return estimator._validate_data(*args, **kw)

import jitprop
from jitprop.model.costs import Cost
from jitprop.model.impls import IMPLS
from jitprop.model.layers import Activation, Linear, SoftMax
from jitprop.model.network import Network
from jitprop.threads import default_threads, limit_threads, uses_blas

# scikit-learn's activation names -> jitprop's layers
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


class _Stop(Exception):
    """Raised from the per-epoch callback to end training (converged)."""


class LogitBinaryCrossEntropy(Cost):
    """Binary cross-entropy of independent logistic outputs, computed from
    the logits: the batch mean of ``sum_j softplus(z_j) - y_j z_j`` (the
    summed binary log-loss of ``sigmoid(z)``, as scikit-learn's multilabel
    loss); gradient ``sigmoid(z) - y``. In NumPy (the model layer runs it,
    between the compiled layers): the fused kernels have no such loss."""

    def estimate(self, target, prediction, k=None):
        z = np.asarray(prediction)
        t = np.asarray(target, z.dtype)
        if z.shape != t.shape:
            raise ValueError(f"target and prediction: expected the same shape, got {t.shape} and {z.shape}")
        p = _sigmoid(z)
        self._grad = (p - t).astype(z.dtype, copy=False)
        softplus = np.logaddexp(0.0, z.astype(np.float64))
        self.value = float((softplus - t * z).sum() / z.shape[0])
        return self.value


def _sigmoid(z):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1 + e)
    return out


def _check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _check_number(name, value, low=None, high=None, low_open=False, high_open=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and np.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        rng = f" in {lo or '(-inf'}, {hi or 'inf)'}" if (low is not None or high is not None) else ""
        raise ValueError(f"{name}: expected {'an integer' if integer else 'a number'}{rng}, got {value!r}")
    return value


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, training
    loop (``jitprop.train`` with a per-epoch callback doing scikit-learn's
    stopping rules), the network and the fitted attributes."""

    # ----------------------------------------------------------- parameters
    def _checked_params(self):
        """Validate every parameter (errors name it, the expected and the
        given value); returns the hidden widths."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes: expected a positive integer or a sequence of them, "
                             f"got {self.hidden_layer_sizes!r}") from None
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes: expected positive integers, got {self.hidden_layer_sizes!r}")
        _check_choice("activation", self.activation, tuple(ACTIVATIONS))
        if self.solver == "lbfgs":
            raise ValueError("solver: 'lbfgs' is not supported (jitprop trains with minibatch gradient steps); "
                             "expected 'sgd' or 'adam', got 'lbfgs'")
        _check_choice("solver", self.solver, SOLVERS)
        _check_number("alpha", self.alpha, low=0)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_number("batch_size", self.batch_size, low=1, integer=True)
        _check_choice("learning_rate", self.learning_rate, LEARNING_RATES)
        _check_number("learning_rate_init", self.learning_rate_init, low=0, low_open=True)
        _check_number("power_t", self.power_t, low=0)
        _check_number("max_iter", self.max_iter, low=1, integer=True)
        _check_bool("shuffle", self.shuffle)
        _check_number("tol", self.tol, low=0)
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise ValueError(f"verbose: expected True, False or an integer, got {self.verbose!r}")
        _check_bool("warm_start", self.warm_start)
        # scikit-learn allows momentum 1; the kernels' heavy ball needs < 1
        _check_number("momentum", self.momentum, low=0, high=1, high_open=True)
        _check_bool("nesterovs_momentum", self.nesterovs_momentum)
        _check_bool("early_stopping", self.early_stopping)
        _check_number("validation_fraction", self.validation_fraction, low=0, high=1, high_open=True)
        _check_number("beta_1", self.beta_1, low=0, high=1, high_open=True)
        _check_number("beta_2", self.beta_2, low=0, high=1, high_open=True)
        _check_number("epsilon", self.epsilon, low=0, low_open=True)
        if not (self.n_iter_no_change == np.inf):
            _check_number("n_iter_no_change", self.n_iter_no_change, low=1, integer=True)
        _checked_dtype(self.dtype)
        if self.impl is not None:
            _check_choice("impl", self.impl, tuple(IMPLS))
        if self.threads is not None:
            _check_number("threads", self.threads, low=1, integer=True)
        return [int(s) for s in sizes]

    def _batch_size(self, n_samples):
        """'auto': min(200, n_samples); a larger one is clipped, with a warning, as scikit-learn does."""
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"batch_size: {self.batch_size} is larger than the {n_samples} training rows; "
                          f"it is clipped to {n_samples}")
            return n_samples
        return int(self.batch_size)

    # -------------------------------------------------------------- network
    def _build(self, sizes, dtype, rs, binary):
        """The network with scikit-learn's initialisation: for each layer,
        weights then biases uniform in +-sqrt(f / (fan_in + fan_out)) (f = 2
        for logistic, else 6), drawn from ``rs`` in scikit-learn's order. For
        ``binary`` the last layer is drawn as one logistic unit and split
        into two opposite softmax rows (w/2, -w/2)."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        layers = []
        quiet = np.random.default_rng(0)  # Linear draws N(0, 0): keep NumPy's global generator untouched
        for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
            last = i == len(sizes) - 2
            drawn_out = 1 if (last and binary) else fan_out
            bound = np.sqrt(factor / (fan_in + drawn_out))
            w = rs.uniform(-bound, bound, (fan_in, drawn_out))
            b = rs.uniform(-bound, bound, drawn_out)
            if last and binary:
                w = np.concatenate([-w / 2, w / 2], axis=1)
                b = np.concatenate([-b / 2, b / 2])
            lin = Linear(fan_in, fan_out, 0.0, backend="numba", dtype=dtype, rng=quiet)
            lin.w = w.T.astype(dtype)
            lin.b = b.astype(dtype)[None, :]
            layers.append(lin)
            if not last:
                layers.append(Activation.by_name[ACTIVATIONS[self.activation]](backend="numba", dtype=dtype))
        if self._softmax_output():
            layers.append(SoftMax(backend="numba", dtype=dtype))
        return Network(layers, backend="numba", dtype=dtype)

    def _softmax_output(self):
        return False

    def _public_layout(self):
        """coefs_ (n_in, n_out) and intercepts_ (n_out,) per layer, from the network."""
        coefs = [np.array(l.w.T) for l in self._net.linears]
        intercepts = [np.array(l.b[0]) for l in self._net.linears]
        if getattr(self, "_binary", False):
            coefs[-1] = coefs[-1][:, 1:] - coefs[-1][:, :1]
            intercepts[-1] = intercepts[-1][1:] - intercepts[-1][:1]
        return coefs, intercepts

    def _publish(self):
        self.coefs_, self.intercepts_ = self._public_layout()

    def _l2(self, batch_size, steps, n):
        """scikit-learn's epoch-mean L2 term: 0.5 alpha ||W||^2 / rows per
        step, weighted by rows: 0.5 alpha ||W||^2 steps / n."""
        coefs, _ = self._public_layout()
        return 0.5 * self.alpha * sum(float(np.vdot(c, c)) for c in coefs) * steps / n

    def _make_optimizer(self, weight_decay):
        if self.solver == "sgd":
            return jitprop.SGD(self.learning_rate_init, momentum=self.momentum,
                               nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
                               weight_decay=weight_decay)
        return jitprop.Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon,
                            weight_decay=weight_decay)

    # ------------------------------------------------------------- training
    def _fit(self, X, y, incremental, classes=None):
        hidden = self._checked_params()
        fitted = hasattr(self, "_net")
        first = not fitted or (not incremental and not self.warm_start)
        if self.early_stopping and incremental:
            raise ValueError("early_stopping: partial_fit does not support early_stopping=True")
        if first:
            for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")] + ["_net"]:
                vars(self).pop(name, None)
            dtype = _checked_dtype(self.dtype) or (np.float64, np.float32)
        else:
            dtype = self._net.dtype
        X, y = self._validate_xy(X, y, reset=first, dtype=dtype)
        dtype = X.dtype.type
        target, n_out = self._encode(y, first, incremental, classes)
        if target.dtype.kind == "f":
            target = target.astype(dtype)
        rs = check_random_state(self.random_state)
        sizes = [X.shape[1], *hidden, n_out]
        if first:
            self._net = self._build(sizes, dtype, rs, self._binary)
            self.n_iter_, self.t_ = 0, 0
            self.n_layers_ = len(sizes)
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            else:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = None, None, np.inf
            self._best_params = self._net.params.copy()
        elif self._net.sizes != sizes:
            raise ValueError(f"hidden_layer_sizes: the fitted network has widths {self._net.sizes}; this fit "
                             f"needs {sizes} (set warm_start=False to start again)")
        impl = self._resolved_impl()
        val = None
        if self.early_stopping:
            # as scikit-learn: stratified for single-output classification (two classes: its y is one column)
            stratify = y if (self._is_classifier() and self.n_outputs_ == 1) else None
            X, X_val, target, _, y, y_val = train_test_split(X, target, y, random_state=rs,
                                                             test_size=self.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError(f"validation_fraction: the validation set is too small ({X_val.shape[0]} "
                                 f"row); increase validation_fraction ({self.validation_fraction}) or the data")
            X, target = np.ascontiguousarray(X), np.ascontiguousarray(target)
            val = (np.ascontiguousarray(X_val), y_val)
        batch_size = self._batch_size(X.shape[0])
        weight_decay = self.alpha / batch_size
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(weight_decay)
        self._optimizer.weight_decay = weight_decay
        threads = self.threads if self.threads is not None else default_threads(batch_size, sizes, impl)
        self._train(X, target, val, batch_size, 1 if incremental else self.max_iter, incremental, impl, threads,
                    rs)
        self._publish()
        if not all(np.isfinite(a).all() for a in (*self.coefs_, *self.intercepts_)):
            raise ValueError("Solver produced non-finite parameter weights; the inputs may contain large values "
                             "and need scaling (or lower learning_rate_init)")
        return self

    def _resolved_impl(self):
        if getattr(self, "_multilabel", False):
            if self.impl not in (None, "jit", "batched"):
                raise ValueError(f"impl: multilabel targets train on 'jit' or 'batched' (the fused kernels have "
                                 f"no sigmoid cross-entropy); expected None, 'jit' or 'batched', got {self.impl!r}")
            return self.impl or "jit"
        return self.impl or "fused"

    def _train(self, X, target, val, batch_size, epochs, incremental, impl, threads, rs):
        """Up to ``epochs`` epochs in one ``jitprop.train`` call; the
        callback does scikit-learn's per-epoch work (loss curve, stopping,
        rate changes, validation) and the sample order is scikit-learn's:
        the previous epoch's order shuffled again with ``rs``."""
        n = X.shape[0]
        rows = {"order": np.arange(n)}

        def sample_order(epoch):
            if self.shuffle:
                rows["order"] = shuffle(rows["order"], random_state=rs)
            return rows["order"]

        steps = -(-n // batch_size)
        opt = self._optimizer
        self.n_iter_ = 0

        def on_epoch(record, state):
            self.n_iter_ += 1
            self.t_ += n
            loss = record["cost"] + (self._l2(batch_size, steps, n) if self.alpha else 0.0)
            self.loss_curve_.append(loss)
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
            self._update_no_improvement_count(val)
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                opt.lr = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change:
                what = "Validation score" if val is not None else "Training loss"
                msg = (f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                       "consecutive epochs.")
                if self.solver == "sgd" and self.learning_rate == "adaptive" and opt.lr > 1e-6:
                    opt.lr /= 5.0
                    self._no_improvement_count = 0
                    if self.verbose:
                        print(f"{msg} Setting learning rate to {opt.lr:f}")
                else:
                    if self.verbose:
                        print(f"{msg} Stopping.")
                    raise _Stop

        try:
            with limit_threads(threads, blas=uses_blas(impl)):
                jitprop.train(self._net, self._cost(), X, target, epochs=epochs, batch_size=batch_size,
                              optimizer=opt, schedule=jitprop.Constant(), sample_order=sample_order,
                              mean_loss=True, impl=impl, progress=False, on_epoch=on_epoch)
            if not incremental and self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                              "optimization hasn't converged yet.", ConvergenceWarning)
        except _Stop:
            pass
        except jitprop.TrainingDiverged as exc:
            raise ValueError(f"Solver produced non-finite parameter weights ({exc}); the inputs may contain "
                             f"large values and need scaling, or learning_rate_init "
                             f"({self.learning_rate_init}) is too high") from None
        if val is not None:
            self._net.params[:] = self._best_params

    def _update_no_improvement_count(self, val):
        """scikit-learn's rule: count epochs that do not beat the best by tol."""
        if val is not None:
            score = self._validation_score(*val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._net.params.copy()
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = loss

    # ----------------------------------------------------------- prediction
    def _validate_x(self, X):
        check_is_fitted(self, "_net")
        X = _validate_data(self, X, reset=False, dtype=self._net.dtype, accept_sparse=False)
        return _writable(X)

    def _validate_xy(self, X, y, reset, dtype):
        X, y = _validate_data(self, X, y, reset=reset, dtype=dtype, multi_output=True, accept_sparse=False,
                              y_numeric=not self._is_classifier())
        return _writable(X), y

    def _output(self, X):
        """The network's output (N, n_out) for validated X."""
        return self._net.predict(X)

    def _is_classifier(self):
        return False


def _checked_dtype(dtype):
    """None, or np.float32/np.float64 for the ``dtype`` parameter."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected None (the input's: float32 stays float32, anything else float64), "
                         f"'float32' or 'float64', got {dtype!r}")
    return dt.type


def _writable(X):
    """C-ordered and writable: the compiled kernels are typed for writable
    arrays (a read-only one would compile another specialisation)."""
    X = np.ascontiguousarray(X)
    return X if X.flags.writeable else X.copy()


_DOC_PARAMETERS = """
    Parameters (scikit-learn's, with its defaults and meanings)
    ----------------------------------------------------------
    hidden_layer_sizes : int or sequence of int, default (100,)
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default 'relu'
    solver : {'sgd', 'adam'}, default 'adam' ('lbfgs' is not supported)
    alpha : float >= 0, default 1e-4
        L2 strength; applied as jitprop weight decay alpha / batch_size on
        every parameter, biases included (scikit-learn: weights only).
    batch_size : int or 'auto' (min(200, n_samples)), default 'auto'
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default 'constant'
        ('sgd' only, as in scikit-learn)
    learning_rate_init, power_t, max_iter (epochs), shuffle, random_state,
    tol, verbose, warm_start, momentum (< 1 here), nesterovs_momentum,
    early_stopping, validation_fraction, beta_1, beta_2, epsilon,
    n_iter_no_change : as in scikit-learn.

    jitprop's own
    -------------
    dtype : None, 'float32' or 'float64', default None
        None trains in the input's type as scikit-learn does (float32 input
        stays float32, anything else becomes float64).
    impl : None or a name of jitprop.IMPLS, default None
        None: 'fused' (the whole epoch in one compiled call), or 'jit' for
        multilabel targets.
    threads : int or None, default None
        Threads while fitting (None: 1 for small products, all cores from
        300k multiply-adds per step, 2M with impl='jit'; jitprop.threads). Give 1
        when fits run side by side (GridSearchCV with n_jobs, a Dask
        cluster), so they do not oversubscribe the cores.

    The loss is the batch mean, as in scikit-learn (jitprop.train's own
    default is the seeds' per-sample sum). Module docstring: what differs.
"""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = """Multilayer perceptron classifier: scikit-learn's MLPClassifier trained
    by jitprop's compiled kernels (softmax + cross-entropy, fused epochs).

    X (n_samples, n_features) float32/float64 (or anything scikit-learn
    converts); y class labels (n_samples,) of any type, or a multilabel
    indicator matrix (n_samples, n_labels).
    """ + _DOC_PARAMETERS + """
    Attributes: classes_, loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, coefs_ (list of (n_in, n_out)),
    intercepts_ (list of (n_out,)), n_features_in_, feature_names_in_,
    n_layers_, n_outputs_, out_activation_ ('softmax', or 'logistic' for
    two classes and multilabel).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=None, impl=None, threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.impl = impl
        self.threads = threads

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and labels y; returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y). ``classes`` (all labels that will ever
        appear) is required on the first call."""
        return self._fit(X, y, incremental=True, classes=classes)

    def _is_classifier(self):
        return True

    def _softmax_output(self):
        return not self._multilabel

    def _cost(self):
        return LogitBinaryCrossEntropy() if self._multilabel else jitprop.CrossEntropy()

    def _validate_xy(self, X, y, reset, dtype):
        X, y = super()._validate_xy(X, y, reset, dtype)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _encode(self, y, first, incremental, classes):
        """Targets for training (class indices (N,) or indicators (N, L)) and
        the output width; sets classes_ and the kind of problem on a first fit."""
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(f"y: expected class labels or a multilabel indicator matrix, got {kind} targets")
        multilabel = kind == "multilabel-indicator"
        if first:
            if incremental:
                if classes is None:
                    raise ValueError("classes: expected all the labels on the first call to partial_fit, got None")
                labels = np.unique(classes) if not multilabel else np.arange(y.shape[1])
            else:
                labels = np.unique(y) if not multilabel else np.arange(y.shape[1])
            if not multilabel and labels.shape[0] < 2:
                raise ValueError(f"y: expected at least 2 classes, got 1 ({labels[0]!r}); a classifier cannot "
                                 "train on one class")
            self.classes_ = labels
            self._multilabel = multilabel
            self._binary = not multilabel and labels.shape[0] == 2
            self.n_outputs_ = labels.shape[0] if (multilabel or not self._binary) else 1
            self.out_activation_ = "logistic" if (multilabel or self._binary) else "softmax"
        else:
            if multilabel != self._multilabel:
                raise ValueError(f"y: the model was fitted on {'multilabel' if self._multilabel else 'class'} "
                                 f"targets, got {kind} targets")
            if incremental and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes: expected the classes of the first call {self.classes_.tolist()}, "
                                 f"got {np.unique(classes).tolist()}")
            if not multilabel:
                unseen = np.setdiff1d(np.unique(y), self.classes_)
                if not incremental and not np.array_equal(np.unique(y), self.classes_):
                    raise ValueError(f"y: warm_start needs the classes of the previous fit "
                                     f"{self.classes_.tolist()}, got {np.unique(y).tolist()}")
                if unseen.size:
                    raise ValueError(f"y: labels {unseen.tolist()} are not in classes_ {self.classes_.tolist()}")
            elif y.shape[1] != self.classes_.shape[0]:
                raise ValueError(f"y: expected {self.classes_.shape[0]} labels per row, got {y.shape[1]}")
        if multilabel:
            return np.ascontiguousarray(y, dtype=np.float64), y.shape[1]
        return np.searchsorted(self.classes_, y).astype(np.int64), self.classes_.shape[0]

    def _validation_score(self, X, y):
        return accuracy_score(y, self._predict_validated(X))

    def _proba(self, X):
        out = self._output(X)
        return _sigmoid(out) if self._multilabel else out

    def _predict_validated(self, X):
        p = self._proba(X)
        if self._multilabel:
            return (p > 0.5).astype(int)
        return self.classes_[np.argmax(p, axis=1)]

    def predict(self, X):
        """Labels (n_samples,), or an indicator matrix (n_samples, n_labels) for multilabel."""
        return self._predict_validated(self._validate_x(X))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes) in the order of
        classes_ (multilabel: each label's probability, (n_samples, n_labels))."""
        return self._proba(self._validate_x(X))

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multilabel": True}


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = """Multilayer perceptron regressor: scikit-learn's MLPRegressor trained by
    jitprop's compiled kernels (identity output, squared error
    0.5 * mean((y - f(x))**2), fused epochs).

    X (n_samples, n_features); y (n_samples,) or (n_samples, n_outputs)
    real targets.
    """ + _DOC_PARAMETERS + """
    loss : 'squared_error' ('poisson' is not supported)

    Attributes: loss_curve_, best_loss_, validation_scores_,
    best_validation_score_, n_iter_, t_, coefs_ (list of (n_in, n_out)),
    intercepts_ (list of (n_out,)), n_features_in_, feature_names_in_,
    n_layers_, n_outputs_, out_activation_ ('identity').
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=None, impl=None,
                 threads=None):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.impl = impl
        self.threads = threads

    _binary = False
    _multilabel = False

    def fit(self, X, y):
        """Train on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_outputs); returns self."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch on (X, y)."""
        return self._fit(X, y, incremental=True)

    def _checked_params(self):
        if self.loss == "poisson":
            raise ValueError("loss: 'poisson' is not supported (the fused kernels train squared error with an "
                             "identity output); expected 'squared_error', got 'poisson'")
        _check_choice("loss", self.loss, ("squared_error",))
        return super()._checked_params()

    def _cost(self):
        return jitprop.MeanSquareError()

    def _encode(self, y, first, incremental, classes):
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if first:
            self.n_outputs_ = y2.shape[1]
            self.out_activation_ = "identity"
        elif y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y: the model was fitted on {self.n_outputs_} output(s), got {y2.shape[1]}")
        return np.ascontiguousarray(y2, dtype=np.float64), self.n_outputs_

    def _validation_score(self, X, y):
        return r2_score(y, self._predict_validated(X))

    def _predict_validated(self, X):
        out = self._output(X)
        return out.ravel() if self.n_outputs_ == 1 else out

    def predict(self, X):
        """Predictions (n_samples,), or (n_samples, n_outputs) for several outputs."""
        return self._predict_validated(self._validate_x(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}


__all__ = ["MLPClassifier", "MLPRegressor", "LogitBinaryCrossEntropy"]
