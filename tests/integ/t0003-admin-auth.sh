#!/usr/bin/env bash
# Admin and user auth with Vexa's exact status codes and messages: admin key
# checks (403), user key checks (401), scopes (403), user create/get/list/
# patch, tokens shown once, revocation, 404s and 422 validation shapes.
. "$(dirname "$0")/lib.sh"
start_hark
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')

# admin key missing / wrong → 403 "Invalid or missing admin token."
http GET /admin/users
expect_status 403
expect_json 'j["detail"] == "Invalid or missing admin token." and j["error"]["code"] == "invalid_admin_key"'
http GET /admin/users -H 'X-Admin-API-Key: nope'
expect_status 403

# create: 201 new, 200 when the email exists (case-insensitive)
http POST /admin/users "${ADMIN[@]}" -d '{"email":"ada@example.com","name":"Ada","max_concurrent_bots":2}'
expect_status 201
expect_json 'j["email"] == "ada@example.com" and j["name"] == "Ada" and j["max_concurrent_bots"] == 2 and j["data"] == {} and isinstance(j["id"], int) and j["created_at"].endswith("Z")'
UID1=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST /admin/users "${ADMIN[@]}" -d '{"email":"ADA@example.com"}'
expect_status 200
expect_json "j['id'] == $UID1"
http POST /admin/users "${ADMIN[@]}" -d '{"email":"bob@example.com"}'
expect_status 201
expect_json 'j["max_concurrent_bots"] == 3'

# validation → 422 FastAPI detail list
http POST /admin/users "${ADMIN[@]}" -d '{"name":"x"}'
expect_status 422
expect_json 'j["detail"][0]["loc"] == ["body","email"] and j["detail"][0]["type"] == "missing" and j["error"]["code"] == "validation_error"'
http POST /admin/users "${ADMIN[@]}" -d '{"email":"not-an-email","max_concurrent_bots":-1,"extra":1}'
expect_status 422
expect_json 'sorted(e["loc"][-1] for e in j["detail"]) == ["email","extra","max_concurrent_bots"]'
http POST /admin/users "${ADMIN[@]}" -d '{"email": "x@y.z",'
expect_status 422
expect_json 'j["detail"][0]["type"] == "json_invalid"'

# get / list / patch / 404
http GET "/admin/users/$UID1" "${ADMIN[@]}"
expect_status 200
expect_json "j['id'] == $UID1 and j['api_tokens'] == []"
http GET /admin/users/email/ada@example.com "${ADMIN[@]}"
expect_status 200
http GET /admin/users/999999 "${ADMIN[@]}"
expect_status 404
expect_json 'j["detail"] == "User not found"'
http GET /admin/users/abc "${ADMIN[@]}"
expect_status 422
expect_json 'j["detail"][0]["loc"] == ["path","user_id"]'
http GET '/admin/users?skip=1&limit=1' "${ADMIN[@]}"
expect_status 200
expect_json 'len(j) == 1 and j[0]["email"] == "bob@example.com"'
http GET '/admin/users?limit=0' "${ADMIN[@]}"
expect_status 422
http PATCH "/admin/users/$UID1" "${ADMIN[@]}" -d '{"max_concurrent_bots":5,"data":{"team":"x"}}'
expect_status 200
expect_json 'j["max_concurrent_bots"] == 5 and j["data"] == {"team": "x"} and j["name"] == "Ada"'
http PATCH /admin/users/999999 "${ADMIN[@]}" -d '{"name":"z"}'
expect_status 404

# tokens: shown once, metadata only afterwards
http POST "/admin/users/$UID1/tokens" "${ADMIN[@]}"
expect_status 201
expect_json 'j["token"].startswith("hk_") and len(j["token"]) == 46 and sorted(j["scopes"]) == ["bot","browser","tx"]'
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
TID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST "/admin/users/$UID1/tokens?scope=bot" "${ADMIN[@]}"
expect_status 201
expect_json 'j["scopes"] == ["bot"]'
BOT_TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
http POST "/admin/users/$UID1/tokens" "${ADMIN[@]}" -d '{"scopes":["nope"]}'
expect_status 422
http POST "/admin/users/$UID1/tokens" "${ADMIN[@]}" -d '{"expires_in":0}'
expect_status 422
http POST /admin/users/999999/tokens "${ADMIN[@]}"
expect_status 404
http GET "/admin/users/$UID1/tokens" "${ADMIN[@]}"
expect_status 200
expect_json 'len(j) == 2 and all("token" not in t for t in j)'
grep -q "$TOKEN" "$HARK_LOG" && fail "a token secret reached the log"
sqlite3 "$DATA/hark.db" .dump | grep -q "${TOKEN#hk_}" && fail "a token secret is stored in clear"

# user auth: 401 missing / invalid, 200 valid, 403 user key on admin route
http GET /auth/me
expect_status 401
expect_json 'j["detail"] == "Missing API key" and j["error"]["code"] == "missing_api_key"'
http GET /auth/me -H 'X-API-Key: hk_wrong'
expect_status 401
expect_json 'j["detail"] == "Invalid API key" and j["error"]["code"] == "invalid_api_key"'
http GET /auth/me -H "X-API-Key: $TOKEN"
expect_status 200
expect_json "j == {'user_id': $UID1, 'email': 'ada@example.com', 'scopes': ['bot','tx','browser'], 'max_concurrent': 5}"
http GET /auth/me -H "X-API-Key: $BOT_TOKEN"
expect_status 200
http GET /admin/users -H "X-API-Key: $TOKEN"
expect_status 403
expect_json 'j["detail"] == "Invalid or missing admin token."'

# revoke → 204, then 401; revoking again → 404
http DELETE "/admin/tokens/$TID" "${ADMIN[@]}"
expect_status 204
http GET /auth/me -H "X-API-Key: $TOKEN"
expect_status 401
http DELETE "/admin/tokens/$TID" "${ADMIN[@]}"
expect_status 404
expect_json 'j["detail"] == "Token not found"'
stop_hark
