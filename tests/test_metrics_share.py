"""/metrics counters shared between the workers of one service (files under STUDIO_HOME)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from studio.service.metrics import Metrics, SharedCounters


def test_counters_of_other_workers_are_summed_and_dead_workers_dropped(tmp_path):
    mine, theirs = Metrics(), Metrics()
    mine.observe("churn", 200, 3.0, rows=1)
    theirs.observe("churn", 200, 30.0, rows=4)
    theirs.observe("churn", 422, 1.0)
    folder = tmp_path / "run" / "metrics-8080"
    share = SharedCounters(folder)
    share.publish(mine.snapshot({"studio_batches": 1}))
    other = SharedCounters(folder)
    other.name = f"{other.host}_{os.getppid()}.json"  # a live process: its file counts
    other.publish(theirs.snapshot({"studio_batches": 2}))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (folder / f"{share.host}_{dead}.json").write_text(json.dumps(theirs.snapshot()))
    (folder / f"{share.host}_{os.getppid() + 1}.json.tmp").write_text("{half")  # not ours
    others = share.others()
    assert len(others) == 1  # the dead worker's file is removed, not summed
    assert not (folder / f"{share.host}_{dead}.json").exists()
    text = mine.render({"studio_batches": 1}, [], others)
    assert 'studio_requests_total{endpoint="churn",status="200"} 2' in text
    assert 'studio_requests_total{endpoint="churn",status="422"} 1' in text
    assert 'studio_predicted_rows_total{endpoint="churn"} 5' in text
    assert 'studio_request_seconds_count{endpoint="churn"} 2' in text
    assert "studio_batches 3" in text
    assert 'studio_request_seconds_bucket{endpoint="churn",le="+Inf"} 2' in text
    share.remove()
    assert not (folder / share.name).exists()
    # one worker alone renders exactly what it counted
    assert 'status="200"} 1' in mine.render({}, [])
