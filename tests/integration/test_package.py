"""The built Lambda package, not the source tree, carries functions/ and templates/ and works.

Builds with ``make package``, unzips into an empty directory, and in a fresh
interpreter with only that directory and boto3 (with its own dependencies) on
the path imports ``app`` and handles a signed webhook against the emulator.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests import payloads as p
from tests.signing import body, meta_headers, staff_headers

ROOT = Path(__file__).resolve().parents[2]
BOTO3_AND_DEPS = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

PROBE = r"""
import json, sys
sys.path[:0] = sys.argv[1:3]
import app
import functions
assert functions.__file__.startswith(sys.argv[1]), functions.__file__
assert sys.modules["chalice"].__file__.startswith(sys.argv[1]), "chalice runtime must come from the zip"
answers = [app.app(json.loads(event), None) for event in sys.stdin.read().split("\n") if event]
print(json.dumps([{"status": a["statusCode"], "body": json.loads(a["body"])} for a in answers]))
"""


def proxy_event(method: str, path: str, headers: dict, raw: bytes = b"") -> str:
    """An API Gateway (REST, proxy) event as Lambda receives it."""
    return json.dumps({
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "body": raw.decode() if raw else None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/api{path}",
                           "stage": "api", "requestId": "req-1", "identity": {"sourceIp": "127.0.0.1"}},
    })


def boto3_only(tmp_path: Path) -> Path:
    """A directory holding boto3 and its dependencies only (symlinks into this environment)."""
    target = tmp_path / "boto3-only"
    target.mkdir()
    for name in BOTO3_AND_DEPS:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source)
    return target


def test_package_carries_functions_and_templates_and_handles_a_webhook(tmp_path, stack_env):
    dist = tmp_path / "dist"
    subprocess.run(["make", "-s", "package", "STAGE=dev", f"DIST={dist}"], cwd=ROOT, check=True,
                   capture_output=True)
    with zipfile.ZipFile(dist / "dev" / "deployment.zip") as package:
        names = set(package.namelist())
        assert {"app.py", "functions/store/dynamo.py", "functions/adapters/meta.py", "templates/README.md"} <= names
        assert not any("__pycache__" in n or n.startswith(("tests/", "local/")) for n in names)
        unzipped = tmp_path / "lambda"
        package.extractall(unzipped)

    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(dist / "dev" / "sam.yaml")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout

    raw = body(p.meta("page", p.messenger_entry(p.messenger_event("pkg-psid", "m_pkg", "from the zip"))))
    events = [proxy_event("POST", "/webhooks/meta", meta_headers(raw), raw),
              proxy_event("POST", "/webhooks/meta", meta_headers(raw), raw),
              proxy_event("GET", "/conversations", staff_headers())]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-S", "-E", "-c", PROBE, str(unzipped), str(boto3_only(tmp_path))],
                            input="\n".join(events), env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    first, duplicate, listing = json.loads(result.stdout.strip().splitlines()[-1])
    assert first == {"status": 200, "body": {"received": 1}}
    assert duplicate == {"status": 200, "body": {"received": 0}}
    assert [c["customer"]["id"] for c in listing["body"]["conversations"]] == ["pkg-psid"]
