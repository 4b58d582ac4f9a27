"""The errors of the data layer.

Two families: a data set that cannot be had (``DatasetUnavailable``, a
``RuntimeError``: the command line prints its message and exits 1) and a file
that is not what it should be (``DataFileError``, a ``ValueError`` whose
message names the file and what is wrong).
"""


class DatasetUnavailable(RuntimeError):
    """A data set could not be read, fetched or built; the message says what to do."""


class MNISTUnavailable(DatasetUnavailable):
    """MNIST could not be read, fetched or built."""


class FashionMNISTUnavailable(DatasetUnavailable):
    """Fashion-MNIST could not be read, fetched or built."""


class CacheUnavailable(MNISTUnavailable, FashionMNISTUnavailable):
    """The cache folder cannot be used (missing HOME, not a folder, not
    writable, full, a lock or aside file that is a folder). An instance of
    both data sets' errors, so ``except MNISTUnavailable`` catches it too."""


class DataFileError(ValueError):
    """A data file (IDX, ``.npz``, ``.csv``) is malformed or not the expected one."""


class IDXError(DataFileError):
    """An IDX file is malformed, truncated, too large or not the published one."""
