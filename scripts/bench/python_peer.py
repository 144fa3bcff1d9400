"""The Python peer of a handoff function for the cold-start benchmark.

What a Python Lambda of the same function does before its first request:
import boto3, build the same clients at module level, then poll the Runtime
API. `PEER_CLIENTS` names the clients (boto3 service names, comma-separated).
"""
import os
import urllib.request

import boto3

CLIENTS = {name: boto3.client(name) for name in os.environ["PEER_CLIENTS"].split(",") if name}

NEXT = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation/next"

while True:
    with urllib.request.urlopen(NEXT) as response:
        response.read()
