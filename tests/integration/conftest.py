"""Fixtures of the integration tests.  The helpers live in tests/harness
(shared with bench/); this file puts it on sys.path, so test files import
`from btclient import ...`, `from fake_portal import ...`, `from p4pxml
import ...` and `from conftest import ...` (the names below)."""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))

from procs import (BUILD, TOP, ITracker, Tracker, free_port, p4p_stats,  # noqa: E402,F401
                   readable_dir, run_expecting_failure, wait_for)

run_tracker_expecting_failure = run_expecting_failure


@pytest.fixture
def workdir():
    d = readable_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def start_tracker(workdir):
    started = []

    def start(config_lines=(), binary="opentracker-p4p"):
        t = Tracker(binary, list(config_lines), workdir)
        started.append(t)
        return t
    yield start
    # a tracker that exited during the test is the failure to report,
    # whatever the test saw of it (a UDP timeout, a refused connection)
    dead = ["%s on port %d exited, %s" % (t.binary, t.port, t.died()) for t in started if t.died()]
    for t in started:
        t.stop()
    assert not dead, "\n".join(dead)
