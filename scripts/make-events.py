#!/usr/bin/env python3
"""Writes events/: one realistic sample per HTTP route and per stage input.

Webhook samples are signed here with Python's hmac, independently of the
Rust code that verifies them, using the documented test secret below.
Run again after changing a sample; the output is deterministic.
"""
import base64
import hashlib
import hmac
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "events"
SECRET = "handoff-test-secret"  # documented in events/README.md; never a real secret
SIGNED_AT = 1768469400  # 2026-01-15T09:30:00Z, the time tests set their clock to
SIGNED_AT_ISO = "2026-01-15T09:30:00Z"
API_HOST = "abc123.execute-api.eu-west-1.amazonaws.com"
RUN_ID = "run-0f8fad5bd9cb469fa16570867728950e"


def mac(message: bytes) -> bytes:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).digest()


def http_event(method, path, route_key, path_params=None, headers=None, body=None, query=None):
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": API_HOST, "user-agent": "handoff-sample/1.0", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": API_HOST,
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.10", "userAgent": "handoff-sample/1.0"},
            "requestId": "sample-request-id",
            "routeKey": route_key,
            "stage": "$default",
            "time": "15/Jan/2026:09:30:00 +0000",
            "timeEpoch": SIGNED_AT * 1000,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if path_params:
        event["pathParameters"] = path_params
    if body is not None:
        event["body"] = body
    return event


def webhook(workflow, body_obj, sign):
    body = json.dumps(body_obj, separators=(",", ":"))
    headers = {"content-type": "application/json", **sign(body.encode())}
    path = f"/webhooks/{workflow}"
    return http_event("POST", path, "POST /webhooks/{workflow}", {"workflow": workflow}, headers, body)


def zendesk(body: bytes):
    sig = base64.b64encode(mac(SIGNED_AT_ISO.encode() + body)).decode()
    return {"x-zendesk-webhook-signature": sig,
            "x-zendesk-webhook-signature-timestamp": SIGNED_AT_ISO,
            "x-zendesk-webhook-invocation-id": "inv-7731"}


def hubspot(body: bytes):
    ts = str(SIGNED_AT * 1000)
    uri = f"https://{API_HOST}/webhooks/lead-qualification"
    sig = base64.b64encode(mac(b"POST" + uri.encode() + body + ts.encode())).decode()
    return {"x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts}


def generic(body: bytes):
    return {"x-signature": "sha256=" + mac(body).hex(), "x-delivery-id": "ap-relay-20260115-0042"}


SAMPLES = {
    "webhook-support-triage.json": webhook("support-triage", {
        "ticket": {
            "id": "48213",
            "subject": "Refund for order 55120",
            "description": "Hi, I was charged twice for order ORD-55120 (EUR 129.00 each). "
                           "Please refund the duplicate payment. Thanks, Dana",
            "requester": {"name": "Dana Whitfield", "email": "dana.whitfield@example.org"},
            "organization": {"name": "Whitfield Studio", "plan": "business"},
            "created_at": SIGNED_AT_ISO,
        }
    }, zendesk),
    "webhook-lead-qualification.json": webhook("lead-qualification", {
        "eventId": 100234,
        "subscriptionType": "contact.creation",
        "objectId": 5012,
        "occurredAt": SIGNED_AT * 1000,
        "properties": {
            "email": "priya.raman@northwind.example",
            "firstname": "Priya",
            "company": "Northwind Logistics",
            "numemployees": "201-1000",
            "message": "We want to roll this out to 300 seats next quarter and have budget approved. "
                       "Can we get a quote and a call this week?",
        },
    }, hubspot),
    "webhook-invoice-approval.json": webhook("invoice-approval", {
        "message_id": "<20260115.0042@acme-supplies.example>",
        "from": "billing@acme-supplies.example",
        "subject": "Invoice INV-2026-0113 for PO-4471",
        "supplier": "acme-supplies",
        "body": "Dear customer, please find invoice INV-2026-0113 for purchase order PO-4471. "
                "Total due: EUR 1,250.00 by 2026-02-14. Kind regards, Acme Supplies",
    }, generic),
    "sqs-start-run.json": {"Records": [{
        "messageId": "5b1f3c2e-1d9a-4a57-9d0e-2f8c6b1a7e11",
        "receiptHandle": "AQEBsample==",
        "body": json.dumps({"run_id": RUN_ID, "workflow": "support-triage"}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(SIGNED_AT * 1000),
                       "SenderId": "AIDASAMPLE", "ApproximateFirstReceiveTimestamp": str(SIGNED_AT * 1000)},
        "messageAttributes": {"workflow": {"stringValue": "support-triage", "dataType": "String",
                                           "stringListValues": [], "binaryListValues": []}},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:handoff-dev-intake",
        "awsRegion": "eu-west-1",
    }]},
    "stage-context.json": {"run_id": RUN_ID, "workflow": "support-triage"},
    "stage-reason.json": {"run_id": RUN_ID, "workflow": "support-triage"},
    "stage-decide.json": {"run_id": RUN_ID, "workflow": "support-triage"},
    "stage-act.json": {"run_id": RUN_ID, "workflow": "support-triage"},
    "stage-finalize.json": {"run_id": RUN_ID, "workflow": "support-triage"},
    "stage-finalize-failure.json": {"run_id": RUN_ID, "workflow": "support-triage",
                                    "failure": {"Error": "Handoff.ActionFailed",
                                                "Cause": "action `update_ticket` failed: action rejected with status 400"}},
    "stage-approval-request.json": {"kind": "request", "run_id": RUN_ID, "workflow": "support-triage",
                                    "escalation": False,
                                    "task_token": "AQCEAAAAKgAAAAMAAAAAAAAAAbSampleTaskToken=="},
    "stage-approval-timeout.json": {"kind": "timeout", "run_id": RUN_ID, "workflow": "support-triage"},
    "api-dashboard.json": http_event("GET", "/", "GET /"),
    "api-list-runs.json": http_event("GET", "/runs", "GET /runs", query={"status": "AWAITING_APPROVAL", "limit": "20"}),
    "api-get-run.json": http_event("GET", f"/runs/{RUN_ID}", "GET /runs/{id}", {"id": RUN_ID}),
    "api-feedback.json": http_event("POST", f"/runs/{RUN_ID}/feedback", "POST /runs/{id}/feedback", {"id": RUN_ID},
                                    {"content-type": "application/json"},
                                    json.dumps({"label": "billing_question"})),
    "approval-get.json": http_event("GET", "/approvals/3f2a9c1d5e7b4a6c8d0e1f2a3b4c5d6e", "GET /approvals/{id}",
                                    {"id": "3f2a9c1d5e7b4a6c8d0e1f2a3b4c5d6e"},
                                    query={"r": "lead@support.example.com", "exp": str(SIGNED_AT + 14400), "sig": "unsigned-sample"}),
    "approval-post.json": http_event("POST", "/approvals/3f2a9c1d5e7b4a6c8d0e1f2a3b4c5d6e", "POST /approvals/{id}",
                                     {"id": "3f2a9c1d5e7b4a6c8d0e1f2a3b4c5d6e"},
                                     {"content-type": "application/x-www-form-urlencoded"},
                                     "verdict=approve&reason=Duplicate+charge+confirmed",
                                     query={"r": "lead@support.example.com", "exp": str(SIGNED_AT + 14400), "sig": "unsigned-sample"}),
}


def main():
    OUT.mkdir(exist_ok=True)
    for name, event in SAMPLES.items():
        (OUT / name).write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote {len(SAMPLES)} samples to events/")


if __name__ == "__main__":
    main()
