"""How many times the suite times a training case."""
import math

# Rounds: enough for about ROUND_SECONDS of timing, between MIN_ROUNDS and
# MAX_ROUNDS; a case whose epoch is estimated above ONE_ROUND_SECONDS (NumPy
# at small batches, minutes each) is timed once. The report takes the fastest
# round, so short cases get more chances at a quiet moment of the machine.
ROUND_SECONDS = 3.0
MIN_ROUNDS, MAX_ROUNDS = 3, 9
ONE_ROUND_SECONDS = 30.0


def rounds_for(epoch_seconds):
    """Timed rounds for a case whose full epoch takes about ``epoch_seconds``."""
    if epoch_seconds > ONE_ROUND_SECONDS:
        return 1
    return max(MIN_ROUNDS, min(MAX_ROUNDS, math.ceil(ROUND_SECONDS / max(epoch_seconds, 1e-9))))
