"""Named configurations for ``jitprop train --preset``."""

# The default is the best configuration found for reaching >= 98% test
# accuracy quickly (see the closing note of issue 2 for the sweep).
PRESETS = {
    "default": dict(layers="784,512,10", activation="relu", cost="cross-entropy", epochs=6,
                    batch_size=64, lr=0.004, lr_decay=0.8, init_sigma="he", val_size=0,
                    dtype="float32"),
    # Hamlet's task 4: one Linear 784-10 + Sigmoid, MSE, batch 600, lr 1e-4.
    "hamlet-task4": dict(layers="784,10", activation="sigmoid", cost="mse", epochs=10,
                         batch_size=600, lr=1e-4, lr_decay=1.0, init_sigma=0.1, val_size=10000,
                         dtype="float64"),
    # Hamlet's task 5: 784-128-32-10 sigmoid, MSE, batch 12, lr 0.01.
    "hamlet-task5": dict(layers="784,128,32,10", activation="sigmoid", cost="mse", epochs=5,
                         batch_size=12, lr=0.01, lr_decay=1.0, init_sigma=0.1, val_size=10000,
                         dtype="float64"),
    # Homework 1, question 5: 784-32-32-10 sigmoid, softmax + cross-entropy,
    # per-sample SGD, lr 0.003, 3 epochs.
    "homework-q5": dict(layers="784,32,32,10", activation="sigmoid", cost="cross-entropy", epochs=3,
                        batch_size=1, lr=0.003, lr_decay=1.0, init_sigma=0.1, val_size=10000,
                        dtype="float64"),
}
