"""One way to run work in a low-priority child process (aereport.background): calls, progress,
errors in one line, a child that dies, and children that never outlive their parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from aereport import AEReportError
from aereport.background import Worker, WorkerDied


def count(n: int, progress=None) -> int:
    for i in range(n):
        progress({"step": i + 1, "pid": os.getpid()})
    return n * n


def fail(kind: str):
    if kind == "ours":
        raise AEReportError("runs/x/config.json: corrupt JSON", file="runs/x/config.json")
    raise ZeroDivisionError("division by zero\nsecond line")


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_call_runs_in_a_child_at_the_lowest_priority_and_reports_progress():
    worker = Worker()
    try:
        seen = []
        assert worker.call(count, 3, progress=seen.append) == 9
        assert [s["step"] for s in seen] == [1, 2, 3]
        child = seen[0]["pid"]
        assert child == worker.pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, child) == min(os.getpriority(os.PRIO_PROCESS, 0) + 19, 19)
        assert worker.call(count, 2) == 4 and worker.pid == child  # kept for the next call
    finally:
        worker.close()
    assert worker.pid is None


def test_errors_come_back_as_one_line():
    worker = Worker()
    try:
        with pytest.raises(AEReportError, match=r"^runs/x/config.json: corrupt JSON. Received: file='runs/x/config.json'$"):
            worker.call(fail, "ours")
        with pytest.raises(AEReportError, match=r"^ZeroDivisionError: division by zero$"):
            worker.call(fail, "theirs")
        with pytest.raises(AEReportError, match="cannot start the background work"):
            worker.call(lambda: 1)  # nothing the child can import
        assert worker.call(count, 1) == 1  # still in step
    finally:
        worker.close()


def test_a_killed_child_is_said_and_the_next_call_starts_another():
    worker = Worker()
    job = worker.submit(sleep, 60)
    deadline = time.time() + 30
    while worker.pid is None and time.time() < deadline:
        time.sleep(0.05)
    first = worker.pid
    time.sleep(0.5)
    os.kill(first, signal.SIGKILL)
    with pytest.raises(WorkerDied, match=r"the background process stopped before it finished. Received: exit_code=-9"):
        job.result(timeout=30)
    try:
        assert worker.call(sleep, 0) not in (first, os.getpid())
    finally:
        worker.close()


def test_a_worker_that_does_not_keep_its_child():
    worker = Worker(keep_alive=False, nice=0)
    assert worker.call(count, 2) == 4 and worker.pid is None


PARENT = """
import sys, time
from aereport.background import Worker
from tests.test_background import sleep
worker = Worker()
job = worker.submit(sleep, 300)
while worker.pid is None:
    time.sleep(0.05)
print(worker.pid, flush=True)
time.sleep(300)
"""


def test_a_child_dies_with_its_parent():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(__file__)))
    child = int(parent.stdout.readline())
    parent.kill()  # no atexit hook runs: the kernel's parent-death signal must end the child
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"the child {child} outlived its parent")
