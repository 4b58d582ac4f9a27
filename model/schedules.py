"""Learning-rate schedules: pure functions of the epoch and step, so a
resumed run gets the same rates as an uninterrupted one, and the whole-epoch
kernels take a whole epoch's rates as one array.

Every schedule may start with a linear warm-up over ``warmup`` epochs
(fractional epochs allowed): step t of the warm-up (0-based, counted from
the first step of training) uses ``lr * (t + 1) / warmup_steps``.
"""
import math

import numpy as np

from jitprop.checks import check_positive_int, check_scalar


class Schedule:
    """Base class: ``rates(lr, epoch, steps, epochs)`` -> (steps,) float64,
    the rate of each step of epoch ``epoch`` (1-based) of ``epochs``, with
    ``steps`` steps per epoch."""

    name = None
    spans_the_run = False  # True when a rate depends on the total number of epochs

    def __init__(self, warmup=0.0):
        self.warmup = check_scalar("warmup", warmup)

    def _rate(self, lr, epoch, t, steps, epochs):
        """The rate before warm-up for global step t (0-based)."""
        raise NotImplementedError

    def rates(self, lr, epoch, steps, epochs):
        t0 = (epoch - 1) * steps
        out = np.array([self._rate(lr, epoch, t0 + s, steps, epochs) for s in range(steps)], np.float64)
        warm = round(self.warmup * steps)
        for s in range(steps):
            if t0 + s < warm:
                out[s] *= (t0 + s + 1) / warm
        return out

    def config(self):
        return {"schedule": self.name, **self._params(), "warmup": self.warmup}

    def _params(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.config().items()
                                                     if k != "schedule") + ")"


class Constant(Schedule):
    """The same rate every step."""
    name = "constant"

    def _rate(self, lr, epoch, t, steps, epochs):
        return lr


class Exponential(Schedule):
    """``lr * gamma ** (epoch - 1)``: multiplied by gamma after every epoch."""
    name = "exponential"

    def __init__(self, gamma=1.0, warmup=0.0):
        super().__init__(warmup)
        self.gamma = check_scalar("gamma", gamma, strict=True)

    def _rate(self, lr, epoch, t, steps, epochs):
        return lr * self.gamma ** (epoch - 1)

    def _params(self):
        return {"gamma": self.gamma}


class Step(Schedule):
    """``lr * gamma ** ((epoch - 1) // step_size)``: multiplied by gamma every
    ``step_size`` epochs."""
    name = "step"

    def __init__(self, step_size=10, gamma=0.1, warmup=0.0):
        super().__init__(warmup)
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_scalar("gamma", gamma, strict=True)

    def _rate(self, lr, epoch, t, steps, epochs):
        return lr * self.gamma ** ((epoch - 1) // self.step_size)

    def _params(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


class Cosine(Schedule):
    """Half a cosine from ``lr`` down to ``min_lr`` over all steps of training."""
    name = "cosine"
    spans_the_run = True

    def __init__(self, min_lr=0.0, warmup=0.0):
        super().__init__(warmup)
        self.min_lr = check_scalar("min_lr", min_lr)

    def _rate(self, lr, epoch, t, steps, epochs):
        total = max(1, epochs * steps)
        return self.min_lr + (lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * t / total))

    def _params(self):
        return {"min_lr": self.min_lr}


SCHEDULES = {c.name: c for c in (Constant, Exponential, Step, Cosine)}


def make_schedule(config):
    """A schedule from ``Schedule.config()`` output."""
    config = dict(config)
    name = config.pop("schedule", None)
    if name not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {sorted(SCHEDULES)}, got {name!r}")
    return SCHEDULES[name](**config)


def check_schedule(schedule):
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule: expected a jitprop schedule ({', '.join(SCHEDULES)}), "
                        f"got {type(schedule).__name__}")
    return schedule
