"""``make report`` (``python -m local.report``) against the local stack: the weekly report lands in moto's SES."""
from __future__ import annotations

import subprocess
import sys

import requests

from tests.localstack import ROOT, LocalStack

POLICY = """
[[sla.policies]]
name = "default"
first_response = "30m"
next_response = "30m"
calendar = "always"
"""


def test_make_report_sends_the_weekly_report_through_local_ses():
    stack = LocalStack(POLICY).start()
    try:
        env = {**stack.env, "HEED_EMULATOR_PORT": stack.emulator.rsplit(":", 1)[1]}
        done = subprocess.run([sys.executable, "-m", "local.report"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "to manager@heed.local" in done.stdout and "moto-api/data.json" in done.stdout
        ses = requests.get(f"{stack.emulator}/moto-api/data.json", timeout=30).json()["ses"]
        assert "response times" in str(ses)
    finally:
        stack.stop()
