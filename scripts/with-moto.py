#!/usr/bin/env python3
"""Run a command against a moto server started for it, then stop the server.

usage: with-moto.py -- COMMAND [ARG...]

Starts `moto_server` from this interpreter's environment (the project's
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


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    command = argv[argv.index("--") + 1 :]
    moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(moto):
        sys.exit("with-moto: moto_server not found next to this python; "
                 "install scripts/requirements-tools.txt into .venv")

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    os.makedirs("target", exist_ok=True)
    log = open(os.path.join("target", "moto.log"), "wb")
    # MOTO_PORT: the state machine interpreter calls back into this server
    # (service integrations) on that port.
    server_env = {**os.environ, "MOTO_PORT": str(port)}
    server = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
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
