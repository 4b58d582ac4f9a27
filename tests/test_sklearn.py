"""jitprop.MLPClassifier and MLPRegressor: scikit-learn's own estimator
checks, and the same numbers as scikit-learn's MLPs where the rules are the
same (full-batch SGD from the same initial weights), on the 8x8 digits and
small synthetic sets."""
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk  # scikit-learn is in the test extra: never skipped
from sklearn.base import clone
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import jitprop
from jitprop.sklearn import MLPClassifier, MLPRegressor

# Training to max_iter on tiny sets warns, as scikit-learn's MLPs do; the
# warning itself is tested in test_max_iter_warns_convergence.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# No check is marked as an expected failure: scikit-learn declares none for
# its own MLPClassifier and MLPRegressor (1.9:
# sklearn/utils/_test_common/instance_generator.py, PER_ESTIMATOR_XFAIL_CHECKS;
# from 1.6 a third party passes them as parametrize_with_checks(...,
# expected_failed_checks=...), before that as the _xfail_checks tag), and
# every check passes here.
@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x[:300] / 16.0, y[:300]


def _params(est):
    return est.coefs_ + est.intercepts_


def _fit_both(ours, theirs, x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours(**kw).fit(x, y), theirs(**kw).fit(x, y)


# Batches of 30 divide the 300 rows, so the loss curves are the same numbers too.
SAME = dict(hidden_layer_sizes=(20,), batch_size=30, alpha=0.0, max_iter=5, random_state=0, tol=0.0)
FULL_BATCH = dict(SAME, batch_size=300)


@pytest.mark.parametrize("solver", [dict(solver="sgd", momentum=0.0), dict(solver="sgd", momentum=0.9),
                                    dict(solver="sgd", momentum=0.9, nesterovs_momentum=False)],
                         ids=["sgd", "nesterov", "momentum"])
def test_classifier_trains_like_scikit_learn(digits, solver):
    # The same initial weights (scikit-learn's Glorot-uniform draws from the
    # same random_state), sample order (its shuffle, through train's
    # sample_order), batch-mean gradient and update rule. float64: only
    # summation order differs.
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, learning_rate_init=0.05, **SAME, **solver)
    assert ours.out_activation_ == theirs.out_activation_ == "softmax"
    for a, b in zip(_params(ours), _params(theirs)):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    assert (ours.n_iter_, ours.t_, ours.n_layers_, ours.n_outputs_) == (theirs.n_iter_, theirs.t_, 3, 10)


def test_regressor_trains_like_scikit_learn(digits):
    x, y = digits
    targets = np.c_[y / 10.0, np.sin(y)]  # two outputs
    ours, theirs = _fit_both(MLPRegressor, sk.MLPRegressor, x, targets, solver="sgd", learning_rate_init=0.01,
                             **SAME)
    assert ours.out_activation_ == "identity" and ours.n_outputs_ == 2
    for a, b in zip(_params(ours), _params(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    assert ours.predict(x).shape == (300, 2)


def test_alpha_is_weight_decay_on_biases_too(digits):
    # One full-batch step: the weights get scikit-learn's alpha / n * W; the
    # biases also decay by lr * alpha / n * b (the kernels' convention, documented).
    kw = dict(FULL_BATCH, alpha=1e-2, max_iter=1, solver="sgd", momentum=0.0)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, learning_rate_init=0.05, **kw)
    start = MLPClassifier(**kw, learning_rate_init=1e-300).fit(*digits)  # the initial weights
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b, b0 in zip(ours.intercepts_, theirs.intercepts_, start.intercepts_):
        np.testing.assert_allclose(b - a, 0.05 * 1e-2 / 300 * b0, rtol=1e-6, atol=1e-15)


def test_adam_matches_scikit_learn_up_to_where_epsilon_goes(digits):
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, learning_rate_init=0.01, **FULL_BATCH)
    assert ours.loss_curve_[0] == pytest.approx(theirs.loss_curve_[0], rel=1e-12)  # same start
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0.05)


def test_binary_is_one_logistic_unit_in_scikit_learns_layout(digits):
    x, y = digits
    y = np.where(y > 4, "big", "small")
    ours = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=60).fit(x, y)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 1
    assert [c.shape for c in ours.coefs_] == [(64, 16), (16, 1)] and ours.intercepts_[-1].shape == (1,)
    assert list(ours.classes_) == ["big", "small"]
    # scikit-learn's forward pass on coefs_/intercepts_ gives predict_proba
    h = np.maximum(x @ ours.coefs_[0] + ours.intercepts_[0], 0)
    p = 1 / (1 + np.exp(-(h @ ours.coefs_[1] + ours.intercepts_[1])))
    np.testing.assert_allclose(ours.predict_proba(x), np.c_[1 - p, p], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(x), np.log(ours.predict_proba(x)))
    theirs = sk.MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=60).fit(x, y)
    assert ours.score(x, y) >= theirs.score(x, y) - 0.02


def test_multiclass_forward_pass_from_coefs(digits):
    x, y = digits
    ours = MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", random_state=0, max_iter=20).fit(x, y)
    z = np.tanh(x @ ours.coefs_[0] + ours.intercepts_[0]) @ ours.coefs_[1] + ours.intercepts_[1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(ours.predict_proba(x), e / e.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)


def test_multilabel_trains_like_scikit_learn_on_the_jit_implementation():
    # 200 rows: batch 'auto' is the full batch, so only Adam's epsilon differs
    x, y = make_multilabel_classification(200, 10, n_classes=3, random_state=0)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, x, y, hidden_layer_sizes=(16,), random_state=0,
                             max_iter=100)
    assert ours.out_activation_ == "logistic" and ours.n_outputs_ == 3 and list(ours.classes_) == [0, 1, 2]
    assert ours.predict(x).shape == (200, 3) and set(np.unique(ours.predict(x))) <= {0, 1}
    p = ours.predict_proba(x)
    assert p.shape == (200, 3) and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    assert ours.loss_curve_[-1] < ours.loss_curve_[0] / 3
    np.testing.assert_allclose(p, theirs.predict_proba(x), atol=1e-3)
    with pytest.raises(ValueError, match=r"impl: multilabel .* got 'fused'"):
        MLPClassifier(impl="fused", max_iter=2).fit(x, y)


def test_the_classifier_runs_the_fused_kernels(digits, monkeypatch):
    seen = []
    real = jitprop.train

    def spy(*args, **kw):
        seen.append((kw["impl"], kw["mean_loss"]))
        return real(*args, **kw)
    monkeypatch.setattr(jitprop, "train", spy)
    MLPClassifier(max_iter=2, random_state=0).fit(*digits)
    MLPRegressor(max_iter=2, random_state=0).fit(digits[0], digits[1] / 10.0)
    assert seen == [("fused", True), ("fused", True)]


def test_float32_input_trains_in_float32(digits):
    x, y = digits
    est = MLPClassifier(max_iter=3, random_state=0).fit(x.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in _params(est)) and est.predict_proba(x).dtype == np.float32
    est = MLPClassifier(max_iter=3, random_state=0, dtype="float32").fit(x, y)
    assert est.coefs_[0].dtype == np.float32
    est = MLPRegressor(max_iter=3, random_state=0, dtype="float64").fit(x.astype(np.float32), y)
    assert est.coefs_[0].dtype == np.float64


def test_early_stopping_as_scikit_learn(digits):
    # the same validation split, scores, stopping epoch and restored best weights
    kw = dict(SAME, solver="sgd", learning_rate_init=0.05, early_stopping=True, n_iter_no_change=3, max_iter=200,
              tol=1e-3)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, **kw)
    assert ours.n_iter_ == theirs.n_iter_ < 200 and ours.best_loss_ is None
    assert ours.validation_scores_ == theirs.validation_scores_
    assert ours.best_validation_score_ == max(ours.validation_scores_)
    assert ours.n_iter_ - 1 - int(np.argmax(ours.validation_scores_)) > 3  # stopped n_iter_no_change + 1 later
    for a, b in zip(_params(ours), _params(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_adaptive_and_invscaling_rates_as_scikit_learn(digits):
    # tol huge: every epoch counts as "no improvement", whatever the losses;
    # adaptive divides the rate by 5 after n_iter_no_change + 1 such epochs
    # until it is <= 1e-6, then stops.
    kw = dict(FULL_BATCH, solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=1e9,
              n_iter_no_change=1, max_iter=100)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, **kw)
    assert ours.n_iter_ == theirs.n_iter_ < 100
    assert ours._optimizer.lr == pytest.approx(theirs._optimizer.learning_rate)
    kw = dict(FULL_BATCH, solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.25,
              max_iter=4, momentum=0.0)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, **kw)
    assert ours._optimizer.lr == pytest.approx(theirs._optimizer.learning_rate) == 0.5 / (4 * 300 + 1) ** 0.25
    for a, b in zip(_params(ours), _params(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_tol_stops_training_as_scikit_learn(digits):
    kw = dict(FULL_BATCH, solver="sgd", learning_rate_init=0.05, tol=1e9, n_iter_no_change=2, max_iter=50)
    ours, theirs = _fit_both(MLPClassifier, sk.MLPClassifier, *digits, **kw)
    # the first epoch beats best_loss_ = inf; each later one counts; stop when the count exceeds 2
    assert ours.n_iter_ == theirs.n_iter_ == 4
    assert ours.best_loss_ == min(ours.loss_curve_)


def test_max_iter_warns_convergence(digits):
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\)"):
        MLPClassifier(max_iter=2, random_state=0).fit(*digits)


def test_partial_fit_one_epoch_per_call_keeps_the_optimizer(digits):
    x, y = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="classes: expected all the labels on the first call"):
        est.partial_fit(x, y)
    est.partial_fit(x[:150], y[:150], classes=np.arange(10))
    est.partial_fit(x[150:], y[150:])
    assert est.n_iter_ == 1 and est.t_ == 300 and len(est.loss_curve_) == 2
    assert est._optimizer.t == 2 * 1  # one Adam step per call (batch 'auto' = all 150 rows)
    with pytest.raises(ValueError, match=r"labels \[11\] are not in classes_"):
        est.partial_fit(x[:3], np.array([1, 2, 11]))
    with pytest.raises(ValueError, match="early_stopping: partial_fit does not support"):
        MLPClassifier(early_stopping=True).partial_fit(x, y, classes=np.arange(10))
    reg = MLPRegressor(random_state=0)
    for _ in range(3):
        reg.partial_fit(x, y / 10.0)
    assert reg.t_ == 900 and len(reg.loss_curve_) == 3 and reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_warm_start_continues(digits):
    x, y = digits
    est = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=3, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(x, y)
        first = [c.copy() for c in est.coefs_]
        est.fit(x, y)
    assert len(est.loss_curve_) == 6 and est.n_iter_ == 3 and est.t_ == 1800
    assert not np.array_equal(first[0], est.coefs_[0])
    with pytest.raises(ValueError, match="warm_start needs the classes of the previous fit"):
        est.fit(x[y < 5], y[y < 5])


def test_pipeline_grid_search_clone_and_pickle(digits):
    x, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0))
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2],
                                 "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    assert len(search.cv_results_["mean_test_score"]) == 4 and search.best_score_ > 0.5
    est = search.best_estimator_
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(x), est.predict_proba(x))
    copy[-1].partial_fit(copy[0].transform(x), y)  # still trainable after unpickling
    fresh = clone(est)
    assert fresh.get_params()["mlpclassifier__hidden_layer_sizes"] == (8,) and not hasattr(fresh[-1], "coefs_")


def test_verbose_prints_scikit_learns_lines(digits, capsys):
    MLPClassifier(max_iter=5, random_state=0, verbose=True, n_iter_no_change=1, tol=1e9).fit(*digits)
    out = capsys.readouterr().out.splitlines()
    assert [line[:20] for line in out[:3]] == [f"Iteration {i}, loss = " for i in (1, 2, 3)]
    assert out[3] == "Training loss did not improve more than tol=1000000000.000000 for 1 consecutive epochs. Stopping."
    assert len(out) == 4


@pytest.mark.parametrize("params, message", [
    (dict(solver="lbfgs"), "solver: 'lbfgs' is not supported .* got 'lbfgs'"),
    (dict(activation="softplus"), "activation: expected one of 'identity', 'logistic', 'tanh', 'relu', got 'softplus'"),
    (dict(momentum=1.0, solver="sgd"), r"momentum: expected a number in \[0, 1\), got 1.0"),
    (dict(hidden_layer_sizes=(10, 0)), r"hidden_layer_sizes: expected positive integers, got \(10, 0\)"),
    (dict(batch_size=0), r"batch_size: expected an integer in \[1, inf\), got 0"),
    (dict(learning_rate="cosine"), "learning_rate: expected one of 'constant', 'invscaling', 'adaptive', got 'cosine'"),
    (dict(dtype="float16"), "dtype: expected None .* 'float32' or 'float64', got 'float16'"),
    (dict(impl="cuda"), "impl: expected one of .*'fused'.*, got 'cuda'"),
    (dict(threads=0), r"threads: expected an integer in \[1, inf\), got 0"),
    (dict(validation_fraction=1.0, early_stopping=True),
     r"validation_fraction: expected a number in \[0, 1\), got 1.0"),
])
def test_bad_parameters_name_the_parameter(digits, params, message):
    with pytest.raises(ValueError, match=message):
        MLPClassifier(max_iter=1, **params).fit(*digits)


def test_regressor_refuses_poisson(digits):
    with pytest.raises(ValueError, match="loss: 'poisson' is not supported .* expected 'squared_error'"):
        MLPRegressor(loss="poisson").fit(digits[0], digits[1])


def test_one_class_is_refused(digits):
    with pytest.raises(ValueError, match="y: expected at least 2 classes, got 1"):
        MLPClassifier().fit(digits[0], np.zeros(300, int))


def test_regressor_single_output_predicts_1d():
    x, y = make_regression(200, 5, noise=0.1, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(32,), random_state=0, max_iter=300, learning_rate_init=0.01).fit(x, y)
    assert est.predict(x).shape == (200,) and est.n_outputs_ == 1 and est.coefs_[-1].shape == (32, 1)
    assert est.score(x, y) > 0.9


def test_import_jitprop_does_not_import_scikit_learn():
    code = "import sys, jitprop; print('sklearn' in sys.modules, jitprop.MLPClassifier.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "jitprop.sklearn"]


def test_without_scikit_learn_the_estimators_name_the_extra():
    # None in sys.modules makes `import sklearn` raise ImportError.
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import jitprop\n"
            "try:\n    jitprop.MLPClassifier\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ('jitprop.MLPClassifier and jitprop.MLPRegressor need scikit-learn, which is not '
                           'installed: pip install "jitprop[sklearn]"')
