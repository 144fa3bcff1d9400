#!/usr/bin/env python3
"""Run a command against a moto server started for it, then stop the server.

usage: with-moto.py -- COMMAND [ARG...]

Starts moto's server from this interpreter's environment (the project's
.venv) on 127.0.0.1 and a free port, waits until it answers, turns on state
machine execution and echoing stub Lambdas (no Docker), and runs COMMAND with
MOTO_ENDPOINT=http://127.0.0.1:PORT. The server is stopped however COMMAND
ends; the exit status is COMMAND's. Its log goes to target/moto.log.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(endpoint: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"with-moto: moto_server exited with {server.returncode}; see target/moto.log")
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    sys.exit(f"with-moto: moto_server did not answer within {timeout:.0f}s")


def configure(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=json.dumps(CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        applied = json.load(response)
    # The reply echoes only some sections (not `stepfunctions`); check those.
    for service, settings in CONFIG.items():
        for key, value in settings.items():
            if service in applied and applied[service].get(key) != value:
                sys.exit(f"with-moto: moto refused config {service}.{key}={value}: {applied}")


# Two fixes to moto, applied in the server process before it starts.
#
# moto's TransactWriteItems snapshots the whole table and, when a condition
# fails, puts the snapshot back, discarding every write another request made
# in between (its server handles requests on threads). Real DynamoDB has no
# such window, so the server runs with DynamoDB's writes serialised: the
# concurrency tests then see DynamoDB's semantics, not moto's race.
LAUNCHER = """
import sys, threading, functools
from moto.dynamodb.models import DynamoDBBackend
lock = threading.RLock()
def serialised(method):
    @functools.wraps(method)
    def call(*args, **kwargs):
        with lock:
            return method(*args, **kwargs)
    return call
for name in ("transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item"):
    if hasattr(DynamoDBBackend, name):
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))
# moto's SES checks a receipt rule's Lambda function among the Docker
# backend's functions, while without Docker (CONFIG) they live in the simple
# backend: look where they are, so a rule as template.yaml declares it saves.
from moto.awslambda.utils import get_backend as lambda_backend
from moto.ses.exceptions import InvalidLambdaFunctionException
from moto.ses.models import SESBackend
def validate_lambda_action(self, action):
    try:
        lambda_backend(self.account_id, self.region_name).get_function(action["FunctionArn"])
    except Exception:
        raise InvalidLambdaFunctionException(f"Invalid Lambda function: {action['FunctionArn']}")
    self._validate_sns_topic(action.get("TopicArn"))
SESBackend._validate_lambda_action = validate_lambda_action
from moto.server import main
sys.exit(main(sys.argv[1:]))
"""


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    command = argv[argv.index("--") + 1 :]
    try:
        import moto.server  # noqa: F401
    except ImportError:
        sys.exit("with-moto: moto is not installed for this python; "
                 "install scripts/requirements-tools.txt into .venv")

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.makedirs("target", exist_ok=True)
    log = open(os.path.join("target", "moto.log"), "wb")
    # MOTO_PORT: the state machine interpreter calls back into this server
    # (service integrations) on that port.
    server_env = {**os.environ, "MOTO_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=server_env,
        start_new_session=True,
    )
    try:
        wait_until_up(endpoint, server, timeout=30)
        configure(endpoint)
        print(f"MOTO_ENDPOINT={endpoint}", flush=True)
        return subprocess.call(command, env={**os.environ, "MOTO_ENDPOINT": endpoint})
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
