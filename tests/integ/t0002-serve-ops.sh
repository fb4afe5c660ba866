#!/usr/bin/env bash
# hark serve answers /healthz, /health, /readyz and /metrics; /metrics is
# valid Prometheus text (promtool) and counts requests by route and status;
# unknown routes give 404 and wrong methods 405 with Allow, both as JSON
# errors with detail and error.code; every response carries X-Request-ID.
. "$(dirname "$0")/lib.sh"
start_hark

http GET /healthz
expect_status 200
expect_json 'j == {"status": "ok"}'
http GET /health
expect_status 200
expect_json 'j == {"status": "ok", "service": "gateway"}'
http GET /readyz
expect_status 200
expect_json 'j["status"] == "ready" and j["checks"]["store"] == "ok"'

http GET /no/such/route
expect_status 404
expect_json 'j["detail"] == "Not Found" and j["error"]["code"] == "not_found"'
http DELETE /healthz
expect_status 405
expect_json 'j["detail"] == "Method Not Allowed" and j["error"]["code"] == "method_not_allowed"'
curl -s -D "$TMPDIR/h" -o /dev/null -X DELETE "http://127.0.0.1:$PORT/healthz"
grep -qi '^Allow: GET' "$TMPDIR/h" || fail "405 without Allow: GET"

curl -s -D "$TMPDIR/h" -o /dev/null -H 'X-Request-ID: trace-abc_123' "http://127.0.0.1:$PORT/healthz"
grep -qi '^X-Request-ID: trace-abc_123' "$TMPDIR/h" || fail "client X-Request-ID not echoed"
curl -s -D "$TMPDIR/h" -o /dev/null -H 'X-Request-ID: bad id"' "http://127.0.0.1:$PORT/healthz"
grep -Eqi '^X-Request-ID: [0-9a-f]{16}' "$TMPDIR/h" || fail "malformed X-Request-ID not replaced"
grep -q 'req=trace-abc_123' "$HARK_LOG" || fail "access log lacks the request id"

http GET /metrics
expect_status 200
printf '%s\n' "$BODY" > "$TMPDIR/metrics.txt"
promtool check metrics < "$TMPDIR/metrics.txt" || fail "promtool rejects /metrics"
grep -q '^hark_http_requests_total{method="GET",route="/healthz",status="200"} [1-9]' "$TMPDIR/metrics.txt" \
    || fail "no request counter for GET /healthz"
grep -q '^hark_http_requests_total{method="GET",route="unmatched",status="404"} 1' "$TMPDIR/metrics.txt" \
    || fail "404 not counted under route=unmatched"
grep -q '^hark_http_request_duration_seconds_bucket{route="/healthz",status="200",le="+Inf"} [1-9]' "$TMPDIR/metrics.txt" \
    || fail "no latency histogram for /healthz"
grep -q '^hark_build_info{version="' "$TMPDIR/metrics.txt" || fail "no hark_build_info"
stop_hark
