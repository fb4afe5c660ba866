#!/usr/bin/python3
"""contract.py - checks a Hark response against Vexa's published API contract.

    python3 contract.py METHOD PATH_TEMPLATE STATUS < body.json

exits 0 when the body is valid for (METHOD, PATH_TEMPLATE, STATUS), else
prints why and exits 1. PATH_TEMPLATE is the contract's path, e.g.
/transcripts/{platform}/{native_meeting_id}.

The contract is $HARK_SHARED/reference/vexa-contract/api.v1/api.schema.json
(OpenAPI 3.1; read in place, never copied). Hark's deliberate extensions,
from reference/vexa-api.md's last section:
- the Platform enum gains Hark's own platforms file, stream and rtmp;
- where the contract leaves a documented response untyped (schema {}),
  the shape vexa-api.md gives it is used (POST /bots answers a meeting);
- statuses the contract does not declare (403, 404, 409, 429, ...) carry
  Hark's error body, {"detail": ..., "error": {"code", "message"}}; an
  undeclared 422 must also be the contract's HTTPValidationError, and every
  error status must carry Hark's error body beside what the contract says.
Every date-time string must parse as an ISO 8601 time with a zone.
"""
import datetime
import json
import os
import sys
import warnings

import jsonschema

# Newer jsonschema releases deprecate RefResolver; Debian 12's has only it.
warnings.filterwarnings("ignore", category=DeprecationWarning)

HARK_PLATFORMS = ["file", "stream", "rtmp"]

# Untyped in the contract, typed by vexa-api.md §1.
OVERRIDES = {
    ("post", "/bots", "201"): {"$ref": "#/components/schemas/MeetingResponse"},
}

ERROR_BODY = {
    "type": "object",
    "required": ["detail", "error"],
    "properties": {
        "detail": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}]},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


def contract_path():
    shared = os.environ.get("HARK_SHARED") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")
    return os.path.join(shared, "reference", "vexa-contract", "api.v1", "api.schema.json")


def load(path=None):
    with open(path or contract_path()) as f:
        doc = json.load(f)
    enum = doc["components"]["schemas"]["Platform"]["enum"]
    enum.extend(p for p in HARK_PLATFORMS if p not in enum)
    return doc


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value):
    if not isinstance(value, str):
        return True
    t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError("no time zone")
    return True


def response_schema(doc, method, template, status):
    """The schema a (method, template, status) response must meet."""
    key = (method.lower(), template, str(status))
    if key in OVERRIDES:
        return OVERRIDES[key]
    op = doc["paths"].get(template, {}).get(method.lower())
    if op is None:
        raise KeyError("the contract has no %s %s" % (method.upper(), template))
    resp = op.get("responses", {}).get(str(status))
    if resp is None:
        if int(status) == 422:  # every FastAPI route can answer it
            return {"$ref": "#/components/schemas/HTTPValidationError"}
        if int(status) >= 400:
            return ERROR_BODY
        raise KeyError("the contract declares no %s for %s %s" % (status, method.upper(), template))
    return resp.get("content", {}).get("application/json", {}).get("schema", {})


def validate(doc, method, template, status, body):
    """Raises jsonschema.ValidationError (or KeyError) when body is not valid."""
    schema = response_schema(doc, method, template, status)
    resolver = jsonschema.RefResolver.from_schema(doc)
    v = jsonschema.Draft202012Validator(schema, resolver=resolver, format_checker=FORMATS)
    v.validate(body)
    if int(status) >= 400 and schema is not ERROR_BODY:
        jsonschema.Draft202012Validator(ERROR_BODY).validate(body)


WS_TYPES = {"transcription_segment": "TranscriptionSegment", "transcript": "Transcript",
            "meeting.status": "MeetingStatus", "subscribed": "Subscribed",
            "unsubscribed": "Unsubscribed", "error": "Error"}


def ws_path():
    return os.path.join(os.path.dirname(contract_path()), "..", "ws.v1", "ws.schema.json")


def ws_load(path=None):
    """ws.v1 with MeetingRef's platform enum extended as the API's."""
    with open(path or ws_path()) as f:
        doc = json.load(f)
    enum = doc["$defs"]["MeetingRef"]["properties"]["platform"]["enum"]
    enum.extend(p for p in HARK_PLATFORMS if p not in enum)
    return doc


def ws_validate(doc, msg):
    """Raises jsonschema.ValidationError (or KeyError for an unknown type)
    when a live /ws message is not ws.v1's shape for its type."""
    schema = dict(doc["$defs"][WS_TYPES[msg.get("type")]])
    schema["$defs"] = doc["$defs"]
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(msg)


def main(argv):
    if len(argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    method, template, status = argv[1], argv[2], argv[3]
    try:
        body = json.loads(sys.stdin.read())
    except ValueError as e:
        print("body is not JSON: %s" % e)
        return 1
    try:
        validate(load(), method, template, status, body)
    except KeyError as e:
        print(e.args[0])
        return 1
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        print("%s %s %s: at %s: %s" % (method.upper(), template, status, where, e.message))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
