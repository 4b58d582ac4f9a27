"""A pytest plugin for ``jitprop bench``: a tqdm bar over the benchmarks on
stderr while pytest's own output goes to a log file."""
import sys

from tqdm.auto import tqdm


class Progress:
    def __init__(self):
        self.bar = None

    def pytest_collection_finish(self, session):
        self.bar = tqdm(total=len(session.items), desc="bench", unit="case", file=sys.stderr)

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.bar.set_postfix_str(report.nodeid.split("[")[-1].rstrip("]"), refresh=False)
            self.bar.update(1)

    def pytest_sessionfinish(self, session):
        if self.bar is not None:
            self.bar.close()


def pytest_configure(config):
    config.pluginmanager.register(Progress(), "jitprop-bench-progress")
