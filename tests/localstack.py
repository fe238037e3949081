"""The local stack as tests start it: ``python -m local.stack`` on free ports (tests/e2e, tests/reliability)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import requests

from local.stack import LOCAL_SECRETS
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
STAFF = {"Authorization": f"Bearer {LOCAL_SECRETS['STAFF_API_TOKEN']}"}


class LocalStack:
    """``python -m local.stack`` on free ports (what ``make run`` starts); tests/e2e starts it too.

    ``log`` names a file for the stack's output (default: discarded); the line
    after ``Heed is ready`` (the local secrets in use) is kept as ``secrets_line``.
    """

    def __init__(self, policy: str, tick_seconds: int = 5, log: str = os.devnull) -> None:
        self.policy = policy
        self.tick_seconds = tick_seconds
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> LocalStack:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"heed-local-stack-{os.getpid()}-{id(self)}.toml"
        path.write_text(self.policy)
        env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "HEED_TABLE", "HEED_PUBLIC_URL",
                                                               "HEED_OUTBOUND_QUEUE_URL", "META_GRAPH_URL",
                                                               "X_API_URL", "TELEGRAM_API_URL")}
        ports = {name: str(free_port()) for name in ("HEED_API_PORT", "HEED_EMULATOR_PORT", "HEED_SIM_PORT")}
        env.update(ports, PYTHONUNBUFFERED="1", HEED_CONFIG=str(path), HEED_TICK_SECONDS=str(self.tick_seconds))
        self.proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Heed is ready"):
                break
        if not (lines and lines[-1].startswith("Heed is ready")):
            self.stop()
            raise RuntimeError("local stack did not start:\n" + "".join(lines[-30:]))
        self.secrets_line = self.proc.stdout.readline()
        sink = open(self.log, "w")  # noqa: SIM115 - open as long as the stack writes to it
        threading.Thread(target=lambda: [sink.write(line) for line in self.proc.stdout], daemon=True).start()
        self.api = f"http://127.0.0.1:{ports['HEED_API_PORT']}"
        self.emulator = f"http://127.0.0.1:{ports['HEED_EMULATOR_PORT']}"
        self.sim = f"http://127.0.0.1:{ports['HEED_SIM_PORT']}"
        self.env = env
        tables = boto3.client("dynamodb", endpoint_url=self.emulator).list_tables()["TableNames"]
        self.table = tables[0]
        return self

    def stop(self) -> int | None:
        """Stop it as Ctrl-C would (SIGTERM); returns its exit code."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return None if self.proc is None else self.proc.wait()

    def conversations(self, status: str = "open") -> list[dict]:
        listed, cursor = [], None
        with requests.Session() as session:
            while True:
                params = {"status": status, "limit": 100, **({"next": cursor} if cursor else {})}
                page = session.get(f"{self.api}/conversations", params=params, headers=STAFF, timeout=60).json()
                listed += page["conversations"]
                cursor = page["next"]
                if not cursor:
                    return listed

    def sent(self) -> list[dict]:
        return requests.get(f"{self.sim}/_sim/sent", timeout=30).json()["sent"]

    def echoes(self) -> list[dict]:
        """The platform echoes the simulator posted to the API: path, body's sha256, status."""
        return requests.get(f"{self.sim}/_sim/echoes", timeout=30).json()["echoes"]
