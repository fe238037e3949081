"""``make run``: Heed on the embedded default, all on loopback.

1. moto in server mode on 127.0.0.1:4566 (``HEED_EMULATOR_PORT`` overrides; an
   emulator already named by ``AWS_ENDPOINT_URL`` is used instead), with the
   resources deployed from ``infra/template.yaml``;
2. ``chalice local`` on 127.0.0.1:8000 (``HEED_API_PORT`` overrides);
3. the pump (``local/pump.py``): the table stream and the SLA schedule, which
   the emulator never fires;
4. the platform simulator (``local/simulator.py``) on 127.0.0.1:8025
   (``HEED_SIM_PORT`` overrides): Meta Graph, X and Telegram for Heed's sends,
   unless ``META_GRAPH_URL``/``X_API_URL``/``TELEGRAM_API_URL`` are set.

Every setting is read from the environment when set; otherwise the documented
throwaway local values below are used and printed. Never use them anywhere else.
The end-to-end test runs this module as ``make run`` does.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

# Throwaway values for the local stage only (README: "Local secrets").
LOCAL_SECRETS = {
    "META_APP_SECRET": "local-meta-app-secret",
    "META_VERIFY_TOKEN": "local-meta-verify-token",
    "X_CONSUMER_SECRET": "local-x-consumer-secret",
    "TELEGRAM_SECRET_TOKEN": "local-telegram-secret-token",
    "STAFF_API_TOKEN": "local-staff-token",
    "HEED_ACK_SECRET": "local-ack-link-secret",
    # Sending to the platforms (local/simulator.py accepts exactly these).
    "META_PAGE_TOKEN": "local-meta-page-token",
    "WHATSAPP_TOKEN": "local-whatsapp-token",
    "X_CONSUMER_KEY": "local-x-consumer-key",
    "X_ACCESS_TOKEN": "3001969357-local-x-access-token",  # X's access tokens start with the user id
    "X_ACCESS_TOKEN_SECRET": "local-x-access-token-secret",
    "TELEGRAM_BOT_TOKEN": "7000000001:local-telegram-bot-token",  # "<TELEGRAM_BOT_ID>:<secret>"
}
LOCAL_SETTINGS = {
    "TELEGRAM_BOT_ID": "7000000001",
    # Email handoff: reply addresses support+<token>@mail.heed.example; the local set-up verifies
    # the domain in moto's SES, so sending works and sent mail is inspectable there.
    "HEED_EMAIL_DOMAIN": "mail.heed.example",
    "HEED_EMAIL_FROM": "support@mail.heed.example",
    # moto accepts any credentials; these keep boto3 from looking for real ones.
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
}
DEFAULT_MOTO_PORT = 4566
DEFAULT_API_PORT = 8000
DEFAULT_SIM_PORT = 8025


class Stack:
    """The local stack as a context manager: start, use, stop (children included)."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        for name, value in {**LOCAL_SECRETS, **LOCAL_SETTINGS}.items():
            self.env.setdefault(name, value)
        self.api_port = int(self.env.get("HEED_API_PORT", DEFAULT_API_PORT))
        self.moto_port = int(self.env.get("HEED_EMULATOR_PORT", DEFAULT_MOTO_PORT))
        self.env.setdefault("HEED_PUBLIC_URL", self.api_url)  # ack links in alert SMS point here
        self.sim_port = int(self.env.get("HEED_SIM_PORT", DEFAULT_SIM_PORT))
        self.children: list[subprocess.Popen] = []
        self.pump = None
        self.simulator = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> Stack:
        try:
            endpoint = self.env.get("AWS_ENDPOINT_URL") or self._start_moto()
            self.env["AWS_ENDPOINT_URL"] = endpoint
            os.environ.update(self.env)  # the pump runs Heed's handlers in this process
            from local import infra

            outputs = infra.deploy(endpoint)
            self.env.setdefault("HEED_TABLE", outputs["HeedTableName"])
            self.env.setdefault("HEED_OUTBOUND_QUEUE_URL", outputs["OutboundQueueUrl"])
            self.env.setdefault("HEED_INBOUND_BUCKET", outputs["InboundMailBucketName"])
            self.env.setdefault("HEED_INBOUND_FAILURES_QUEUE_URL", outputs["InboundMailFailuresQueueUrl"])
            os.environ.update(self.env)
            self._start_simulator()
            self._start_api()
            self._start_pump()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.pump is not None:
            self.pump.stop()
        if self.simulator is not None:
            self.simulator.stop()
            self.simulator = None
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        self.children.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, args: list[str]) -> subprocess.Popen:
        child = subprocess.Popen(args, cwd=ROOT, env=self.env)
        self.children.append(child)
        return child

    def _start_moto(self) -> str:
        _require_free_port(self.moto_port, "moto")
        child = self._spawn([sys.executable, "-m", "local.emulator", "--port", str(self.moto_port)])
        endpoint = f"http://127.0.0.1:{self.moto_port}"
        _wait_until(lambda: _http_status(f"{endpoint}/moto-api/") == 200, child, "moto")
        return endpoint

    def _start_api(self) -> None:
        _require_free_port(self.api_port, "the API")
        chalice = str(Path(sys.executable).parent / "chalice")
        child = self._spawn([chalice, "local", "--host", "127.0.0.1", "--port", str(self.api_port),
                             "--stage", "local", "--no-autoreload"])
        _wait_until(lambda: _http_status(f"{self.api_url}/health") == 200, child, "chalice local")

    def _start_simulator(self) -> None:
        """The platform simulator, in this process; Heed's sends go to it unless a base URL is set."""
        from local.simulator import Simulator

        port = self.sim_port
        if not _port_free(port):
            if "HEED_SIM_PORT" in self.env:
                raise SystemExit(f"port {port} for the platform simulator is already in use on 127.0.0.1")
            port = 0  # the default port is taken (another `make run`?): any free one; the URL is printed
        # The platforms' echoes of accepted sends go to the local API (HEED_SIM_ECHO_TO=off: none).
        echo_to = self.env.get("HEED_SIM_ECHO_TO") or self.api_url
        self.simulator = Simulator(port, env=self.env, echo_to=None if echo_to == "off" else echo_to).start()
        self.sim_port = self.simulator.port
        for name, url in self.simulator.env().items():
            self.env.setdefault(name, url)
        os.environ.update(self.env)

    def _start_pump(self) -> None:
        from local.pump import Pump, jobs

        self.pump = Pump(jobs(self.env["HEED_TABLE"], self.env["HEED_OUTBOUND_QUEUE_URL"],
                              self.env["HEED_INBOUND_BUCKET"], self.env["HEED_INBOUND_FAILURES_QUEUE_URL"]))
        self.pump.start()


def _require_free_port(port: int, what: str) -> None:
    if not _port_free(port):
        raise SystemExit(f"port {port} for {what} is already in use on 127.0.0.1")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _http_status(url: str) -> Optional[int]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def _wait_until(ready, child: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"{what} exited with code {child.returncode} while starting")
        if ready():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not become ready within {timeout:.0f}s")


def main() -> None:
    stack = Stack().start()
    signal.signal(signal.SIGTERM, lambda *_: (stack.stop(), sys.exit(0)))
    secrets = " ".join(f"{name}={stack.env[name]}" for name in LOCAL_SECRETS)
    print(f"Heed is ready: API {stack.api_url} · AWS emulator {stack.env['AWS_ENDPOINT_URL']} "
          f"· table {stack.env['HEED_TABLE']} · platform simulator {stack.simulator.url}", flush=True)
    print(f"Local secrets in use (throwaway, local stage only): {secrets}", flush=True)
    try:
        while all(child.poll() is None for child in stack.children):
            time.sleep(0.5)
        print("a child process exited; stopping Heed", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
