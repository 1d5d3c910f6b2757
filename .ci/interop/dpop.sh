# shellcheck shell=bash
# Sender-constrained tokens (issue 19) with real clients, sourced by ./run
# after the library checks: it uses run's $work, $here, $repo, pids, pass,
# fail, die, free_port, wait_for, run_client and OAUTHD_REDIS_URL.
#
# Everything here speaks HTTPS under a test CA made with openssl, since
# certificate binding needs TLS and oauthd's TLS listener asks for client
# certificates. On the same redis-server it starts:
#   oauthd "plain"   TLS, DPoP nonces off
#   oauthd "nonce"   TLS, dpop.require_nonce=true
#   for each, two replicas of cmd/sms-api over HTTPS, introspecting at it
#   (and checking JWT access tokens locally), SMSAPI_PUBLIC_URL exactly as
#   the clients call it, the proofs they accepted shared in Redis; for
#   "nonce" with SMSAPI_DPOP_NONCE=true and one nonce key
# and checks, against "plain" and then "nonce" (where the libraries must
# follow use_dpop_nonce, at the token endpoint and at the sms-api):
#   node/dpop-oauth4webapi.mjs   oauth4webapi DPoP() + protectedResourceRequest,
#                                opaque and JWT access tokens, refusals
#   node/dpop-openid-client.mjs  openid-client getDPoPHandle + fetchProtectedResource
# and, with curl on "plain", a certificate-bound token (cnf x5t#S256, opaque
# and JWT) that the sms-api accepts only with its certificate, and a token
# bound to both a certificate and a DPoP key (node/dpop-proof.mjs signs the
# proofs for curl).

dpop_dir="$work/dpop"
mkdir -p "$dpop_dir"

# 1. A test CA, the servers' certificate for 127.0.0.1, and two client
# certificates (the second must not unlock the first's token). P-256 keys:
# quick to make, and what FAPI 2.0 would have.
dpop_certs() {
	local d=$dpop_dir name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=oauthd interop test CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign -keyout "$d/ca.key" -out "$d/ca.pem"
	for name in server client other; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=interop-$name" -keyout "$d/$name.key" -out "$d/$name.csr"
	done
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/server.ext"
	printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -extfile "$d/server.ext" -out "$d/server.pem"
	for name in client other; do
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 1 -extfile "$d/client.ext" -out "$d/$name.pem"
	done
}
dpop_certs >"$dpop_dir/openssl.log" 2>&1 || die "dpop setup: openssl could not make the test certificates" "$dpop_dir/openssl.log"
# RFC 8705 §3.1: x5t#S256 is the base64url SHA-256 of the certificate's DER.
dpop_x5t="$(openssl x509 -in "$dpop_dir/client.pem" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')"

# 2. The sms-api, and the applications: a client whose tokens must be
# DPoP-bound (--dpop-bound), the same with JWT access tokens, a plain secret
# client for certificate binding, and the sms-api's own (tokens:introspect).
(cd "$repo" && go build -o "$work/sms-api" ./cmd/sms-api) || die "dpop setup: go build ./cmd/sms-api"
dpop_app() {
	local name=$1
	shift
	"$work/oauthd" apps create --name "$name" --lifetime 1h --json "$@" >"$dpop_dir/$name.json" 2>"$dpop_dir/cli.log" ||
		die "dpop setup: oauthd apps create $name" "$dpop_dir/cli.log"
}
dpop_app dpop-client --scopes "sms groups" --dpop-bound
dpop_app cert-client --scopes "sms groups"
dpop_app cert-jwt --scopes "sms groups" --token-format jwt
dpop_app dpop-jwt --scopes "sms groups" --dpop-bound --token-format jwt
dpop_app dpop-rs --scopes tokens:introspect
# FAPI 2.0 (--profile fapi2): one authenticating with private_key_jwt, one
# with a secret, which the profile refuses.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dpop_dir/fapi.key" 2>"$dpop_dir/openssl.log" &&
	openssl pkey -in "$dpop_dir/fapi.key" -pubout -out "$dpop_dir/fapi.pub" 2>>"$dpop_dir/openssl.log" ||
	die "dpop setup: openssl could not make the FAPI client's key" "$dpop_dir/openssl.log"
dpop_app dpop-fapi --scopes "sms groups" --profile fapi2 --auth-method private_key_jwt --public-key-file "$dpop_dir/fapi.pub"
dpop_app dpop-fapi-secret --scopes "sms groups" --profile fapi2
dpop_app dpop-fapi-mtls --scopes "sms groups" --profile fapi2 --auth-method tls_client_auth --tls-subject-dn "CN=interop-client"
dpop_fapi_mtls_id="$(json_field client_id <"$dpop_dir/dpop-fapi-mtls.json")"
DPOP_FAPI_ID="$(json_field client_id <"$dpop_dir/dpop-fapi.json")"
DPOP_FAPI_KEY="$dpop_dir/fapi.key"
DPOP_FAPI_SECRET_ID="$(json_field client_id <"$dpop_dir/dpop-fapi-secret.json")"
DPOP_FAPI_SECRET_SECRET="$(json_field client_secret <"$dpop_dir/dpop-fapi-secret.json")"
export DPOP_FAPI_ID DPOP_FAPI_KEY DPOP_FAPI_SECRET_ID DPOP_FAPI_SECRET_SECRET
DPOP_CLIENT_ID="$(json_field client_id <"$dpop_dir/dpop-client.json")"
DPOP_CLIENT_SECRET="$(json_field client_secret <"$dpop_dir/dpop-client.json")"
DPOP_JWT_ID="$(json_field client_id <"$dpop_dir/dpop-jwt.json")"
DPOP_JWT_SECRET="$(json_field client_secret <"$dpop_dir/dpop-jwt.json")"
DPOP_RS_ID="$(json_field client_id <"$dpop_dir/dpop-rs.json")"
DPOP_RS_SECRET="$(json_field client_secret <"$dpop_dir/dpop-rs.json")"
dpop_cert_id="$(json_field client_id <"$dpop_dir/cert-client.json")"
dpop_cert_secret="$(json_field client_secret <"$dpop_dir/cert-client.json")"
dpop_cert_jwt_id="$(json_field client_id <"$dpop_dir/cert-jwt.json")"
dpop_cert_jwt_secret="$(json_field client_secret <"$dpop_dir/cert-jwt.json")"
export DPOP_CLIENT_ID DPOP_CLIENT_SECRET DPOP_JWT_ID DPOP_JWT_SECRET DPOP_RS_ID DPOP_RS_SECRET

# dpop_https_up succeeds once a TLS listener answers anything under the test CA.
dpop_https_up() { curl -sS --max-time 2 --cacert "$dpop_dir/ca.pem" -o /dev/null "$1"; }

# dpop_start starts oauthd and two replicas of the sms-api for it; $1 names
# them, the rest are oauthd flags. It sets dpop_issuer, dpop_api (what
# clients call, the replicas' SMSAPI_PUBLIC_URL) and dpop_replica (the
# second replica's own address: a proxy in front of both would send a
# request for dpop_api to either).
dpop_start() {
	local name=$1 as_port
	shift
	as_port="$(free_port)"
	dpop_issuer="https://127.0.0.1:$as_port"
	"$work/oauthd" serve --http-addr "127.0.0.1:$as_port" --issuer "$dpop_issuer" --log-buffer 0s \
		--tls-cert-file "$dpop_dir/server.pem" --tls-key-file "$dpop_dir/server.key" "$@" \
		>"$dpop_dir/oauthd-$name.log" 2>&1 &
	pids+=($!)
	wait_for 150 "${pids[-1]}" dpop_https_up "$dpop_issuer/health/ready" ||
		die "dpop setup: oauthd $name did not answer at $dpop_issuer" "$dpop_dir/oauthd-$name.log"
	dpop_api="https://127.0.0.1:$(free_port)"
	dpop_start_api "$name-1" "$dpop_api"
	dpop_replica="https://127.0.0.1:$(free_port)"
	dpop_start_api "$name-2" "$dpop_replica"
}

# dpop_start_api starts one sms-api replica named $1 on the HTTPS address of
# $2, trusting the test CA for its client certificates and (SSL_CERT_FILE,
# Go's trust store) for introspection at oauthd. The replicas share the
# proofs they accepted in Redis, and the nonce key.
dpop_start_api() {
	local name=$1 url=$2
	env SSL_CERT_FILE="$dpop_dir/ca.pem" SMSAPI_ISSUER="$dpop_issuer" \
		SMSAPI_CLIENT_ID="$DPOP_RS_ID" SMSAPI_CLIENT_SECRET="$DPOP_RS_SECRET" \
		SMSAPI_HTTP_ADDR="127.0.0.1:$(free_port)" SMSAPI_TLS_ADDR="${url#https://}" \
		SMSAPI_TLS_CERT_FILE="$dpop_dir/server.pem" SMSAPI_TLS_KEY_FILE="$dpop_dir/server.key" \
		SMSAPI_TLS_CLIENT_CA_FILE="$dpop_dir/ca.pem" SMSAPI_PUBLIC_URL="$dpop_api" \
		SMSAPI_JWT_LOCAL=true SMSAPI_DPOP_REPLAY_REDIS_URL="$OAUTHD_REDIS_URL" \
		SMSAPI_DPOP_NONCE="${DPOP_API_NONCE:-false}" SMSAPI_DPOP_NONCE_KEY="$dpop_nonce_key" \
		SMSAPI_LOG_BUFFER=0s "$work/sms-api" >"$dpop_dir/sms-api-$name.log" 2>&1 &
	pids+=($!)
	wait_for 150 "${pids[-1]}" dpop_https_up "$url/healthz" ||
		die "dpop setup: sms-api $name did not answer at $url" "$dpop_dir/sms-api-$name.log"
}
dpop_nonce_key="$(head -c32 /dev/urandom | base64)"

# 3. The libraries, without and with nonces.
dpop_libraries() {
	local mode=$1
	NODE_EXTRA_CA_CERTS="$dpop_dir/ca.pem" DPOP_ISSUER="$dpop_issuer" DPOP_API="$dpop_api" DPOP_REPLICA="$dpop_replica" DPOP_NONCE="$mode" \
		run_client "dpop-oauth4webapi ($mode)" node "$here/node/dpop-oauth4webapi.mjs"
	NODE_EXTRA_CA_CERTS="$dpop_dir/ca.pem" DPOP_ISSUER="$dpop_issuer" DPOP_API="$dpop_api" DPOP_REPLICA="$dpop_replica" DPOP_NONCE="$mode" \
		run_client "dpop-openid-client ($mode)" node "$here/node/dpop-openid-client.mjs"
}

# 4. curl with a client certificate: a certificate-bound token.
# dpop_curl runs curl under the test CA and prints the HTTP status last.
dpop_curl() {
	curl -sS --max-time 10 --cacert "$dpop_dir/ca.pem" -w '\n%{http_code}' "$@"
}
# dpop_json reads a (possibly nested: cnf.x5t#S256) field of the JSON
# body, the lines before dpop_curl's status.
dpop_json() {
	sed '$d' | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"
}
dpop_status() { tail -n1 <<<"$1"; }

dpop_certificate_checks() {
	local out token ok
	local client=(--cert "$dpop_dir/client.pem" --key "$dpop_dir/client.key")
	local other=(--cert "$dpop_dir/other.pem" --key "$dpop_dir/other.key")

	out="$(dpop_curl "${client[@]}" -u "$dpop_cert_id:$dpop_cert_secret" -d grant_type=client_credentials -d scope=groups \
		"$dpop_issuer/oauth/token")" || true
	token="$(dpop_json access_token <<<"$out" 2>/dev/null || true)"
	if [ "$(dpop_status "$out")" = 200 ] && [ -n "$token" ] && [ "$(dpop_json token_type <<<"$out")" = Bearer ]; then
		pass "curl: client credentials over TLS with a client certificate -> 200, token_type Bearer (RFC 8705 §3)"
	else
		fail "curl: client credentials over TLS with a client certificate: $(tr '\n' ' ' <<<"$out")"
		return
	fi

	out="$(dpop_curl -u "$DPOP_RS_ID:$DPOP_RS_SECRET" --data-urlencode "token=$token" "$dpop_issuer/oauth/introspect")" || true
	ok="$(dpop_json 'cnf.x5t#S256' <<<"$out" 2>/dev/null || true)"
	if [ "$(dpop_status "$out")" = 200 ] && [ "$ok" = "$dpop_x5t" ]; then
		pass "curl: introspection shows cnf.x5t#S256 = the certificate's SHA-256 thumbprint"
	else
		fail "curl: introspection of the certificate-bound token, wanted cnf.x5t#S256 $dpop_x5t: $(tr '\n' ' ' <<<"$out")"
	fi

	out="$(dpop_curl "${client[@]}" -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
	if [ "$(dpop_status "$out")" = 200 ]; then
		pass "curl: sms-api GET /v1/groups with the token and its certificate -> 200"
	else
		fail "curl: sms-api with the token and its certificate: $(tr '\n' ' ' <<<"$out")"
	fi

	out="$(dpop_curl -D - -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
	if [ "$(dpop_status "$out")" = 401 ] && grep -qi '^www-authenticate:.*invalid_token' <<<"$out"; then
		pass "curl: sms-api with the certificate-bound token and no certificate -> 401 invalid_token"
	else
		fail "curl: sms-api with the certificate-bound token and no certificate: $(tr '\n' ' ' <<<"$out")"
	fi

	out="$(dpop_curl -D - "${other[@]}" -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
	if [ "$(dpop_status "$out")" = 401 ] && grep -qi '^www-authenticate:.*invalid_token' <<<"$out"; then
		pass "curl: sms-api with the certificate-bound token and another certificate of the same CA -> 401 invalid_token"
	else
		fail "curl: sms-api with the certificate-bound token and another certificate: $(tr '\n' ' ' <<<"$out")"
	fi

	out="$(dpop_curl -u "$dpop_cert_id:$dpop_cert_secret" -d grant_type=client_credentials -d scope=groups "$dpop_issuer/oauth/token")" || true
	token="$(dpop_json access_token <<<"$out" 2>/dev/null || true)"
	out="$(dpop_curl -u "$DPOP_RS_ID:$DPOP_RS_SECRET" --data-urlencode "token=$token" "$dpop_issuer/oauth/introspect")" || true
	if [ -n "$token" ] && [ "$(dpop_json active <<<"$out")" = True ] && [ -z "$(dpop_json cnf <<<"$out")" ]; then
		pass "curl: the same application without a certificate gets an unbound token (no cnf)"
	else
		fail "curl: the same application without a certificate, wanted an active token without cnf: $(tr '\n' ' ' <<<"$out")"
	fi

	out="$(dpop_curl -u "$DPOP_CLIENT_ID:$DPOP_CLIENT_SECRET" -d grant_type=client_credentials "$dpop_issuer/oauth/token")" || true
	if [ "$(dpop_status "$out")" = 400 ] && [ "$(dpop_json error <<<"$out")" = invalid_dpop_proof ]; then
		pass "curl: a --dpop-bound application without a DPoP proof -> 400 invalid_dpop_proof"
	else
		fail "curl: a --dpop-bound application without a DPoP proof: $(tr '\n' ' ' <<<"$out")"
	fi
}

# dpop_certificate_jwt: the same with a JWT access token, whose own cnf
# claim the sms-api checks locally (SMSAPI_JWT_LOCAL).
dpop_certificate_jwt() {
	local out token claim
	local client=(--cert "$dpop_dir/client.pem" --key "$dpop_dir/client.key")
	out="$(dpop_curl "${client[@]}" -u "$dpop_cert_jwt_id:$dpop_cert_jwt_secret" -d grant_type=client_credentials -d scope=groups \
		"$dpop_issuer/oauth/token")" || true
	token="$(dpop_json access_token <<<"$out" 2>/dev/null || true)"
	claim="$(cut -d. -f2 <<<"$token" | /usr/bin/python3 -c '
import base64, json, sys
p = sys.stdin.read().strip()
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))).get("cnf", {}).get("x5t#S256", ""))' 2>/dev/null || true)"
	if [ "$(dpop_status "$out")" = 200 ] && [ "$claim" = "$dpop_x5t" ]; then
		pass "curl: a JWT access token over TLS with a client certificate carries the claim cnf.x5t#S256 of that certificate"
	else
		fail "curl: a JWT access token with a client certificate, wanted cnf.x5t#S256 $dpop_x5t, got '$claim': $(tr '\n' ' ' <<<"$out")"
		return
	fi
	out="$(dpop_curl "${client[@]}" -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
	if [ "$(dpop_status "$out")" = 200 ]; then
		out="$(dpop_curl -D - -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
		if [ "$(dpop_status "$out")" = 401 ] && grep -qi '^www-authenticate:.*invalid_token' <<<"$out"; then
			pass "curl: the sms-api (JWT checked locally) serves the certificate-bound JWT with its certificate and refuses it without (401 invalid_token)"
		else
			fail "curl: the sms-api served the certificate-bound JWT without its certificate: $(tr '\n' ' ' <<<"$out")"
		fi
	else
		fail "curl: the sms-api with the certificate-bound JWT and its certificate: $(tr '\n' ' ' <<<"$out")"
	fi
}

# dpop_fapi_mtls: a FAPI 2.0 application authenticating with its
# certificate (tls_client_auth) gets a token bound to it, nothing else.
dpop_fapi_mtls() {
	local out token
	out="$(dpop_curl --cert "$dpop_dir/client.pem" --key "$dpop_dir/client.key" -d client_id="$dpop_fapi_mtls_id" \
		-d grant_type=client_credentials -d scope=groups "$dpop_issuer/oauth/token")" || true
	token="$(dpop_json access_token <<<"$out" 2>/dev/null || true)"
	if [ "$(dpop_status "$out")" = 200 ] && [ -n "$token" ]; then
		out="$(dpop_curl -u "$DPOP_RS_ID:$DPOP_RS_SECRET" --data-urlencode "token=$token" "$dpop_issuer/oauth/introspect")" || true
		if [ "$(dpop_json 'cnf.x5t#S256' <<<"$out")" = "$dpop_x5t" ]; then
			pass "curl: a FAPI 2.0 application with tls_client_auth gets a token bound to its certificate"
		else
			fail "curl: the FAPI 2.0 tls_client_auth token, wanted cnf.x5t#S256 $dpop_x5t: $(tr '\n' ' ' <<<"$out")"
		fi
	else
		fail "curl: a FAPI 2.0 application with tls_client_auth: $(tr '\n' ' ' <<<"$out")"
	fi
	out="$(dpop_curl --cert "$dpop_dir/other.pem" --key "$dpop_dir/other.key" -d client_id="$dpop_fapi_mtls_id" \
		-d grant_type=client_credentials "$dpop_issuer/oauth/token")" || true
	if [ "$(dpop_status "$out")" = 401 ] && [ "$(dpop_json error <<<"$out")" = invalid_client ]; then
		pass "curl: the FAPI 2.0 tls_client_auth application with another certificate of the CA -> 401 invalid_client"
	else
		fail "curl: the FAPI 2.0 tls_client_auth application with another certificate: $(tr '\n' ' ' <<<"$out")"
	fi
}

# dpop_certificate_and_dpop: one token bound to both the certificate and
# a DPoP key (proofs from node/dpop-proof.mjs, oauth4webapi's), accepted
# only with both.
dpop_certificate_and_dpop() {
	local out token jkt proof
	local client=(--cert "$dpop_dir/client.pem" --key "$dpop_dir/client.key")
	local key="$dpop_dir/curl-dpop.json" mk=(node "$here/node/dpop-proof.mjs")
	proof="$("${mk[@]}" "$key" POST "$dpop_issuer/oauth/token")" || { fail "curl + DPoP: node dpop-proof.mjs failed"; return; }
	jkt="$("${mk[@]}" "$key" jkt)"
	out="$(dpop_curl "${client[@]}" -u "$dpop_cert_id:$dpop_cert_secret" -H "DPoP: $proof" \
		-d grant_type=client_credentials -d scope=groups "$dpop_issuer/oauth/token")" || true
	token="$(dpop_json access_token <<<"$out" 2>/dev/null || true)"
	if [ "$(dpop_status "$out")" != 200 ] || [ "$(dpop_json token_type <<<"$out")" != DPoP ]; then
		fail "curl + DPoP: a client certificate and a DPoP proof, wanted token_type DPoP: $(tr '\n' ' ' <<<"$out")"
		return
	fi
	out="$(dpop_curl -u "$DPOP_RS_ID:$DPOP_RS_SECRET" --data-urlencode "token=$token" "$dpop_issuer/oauth/introspect")" || true
	if [ "$(dpop_json cnf.jkt <<<"$out")" = "$jkt" ] && [ "$(dpop_json 'cnf.x5t#S256' <<<"$out")" = "$dpop_x5t" ]; then
		pass "curl + DPoP: a certificate and a DPoP proof -> token_type DPoP, introspection cnf holds both jkt and x5t#S256"
	else
		fail "curl + DPoP: introspection, wanted cnf jkt $jkt and x5t#S256 $dpop_x5t: $(tr '\n' ' ' <<<"$out")"
	fi
	# dpop_call GET /v1/groups with a fresh proof, then any curl options.
	dpop_call() {
		dpop_curl -D - -H "Authorization: DPoP $token" \
			-H "DPoP: $("${mk[@]}" "$key" GET "$dpop_api/v1/groups" "$token")" "$@" "$dpop_api/v1/groups"
	}
	local with without bearer
	with="$(dpop_status "$(dpop_call "${client[@]}")")"
	without="$(dpop_call)" || true
	bearer="$(dpop_curl "${client[@]}" -H "Authorization: Bearer $token" "$dpop_api/v1/groups")" || true
	if [ "$with" = 200 ] && [ "$(dpop_status "$without")" = 401 ] && grep -qi '^www-authenticate:.*invalid_token' <<<"$without" &&
		[ "$(dpop_status "$bearer")" = 401 ]; then
		pass "curl + DPoP: the sms-api serves that token with proof and certificate (200), and refuses it without the certificate or as Bearer (401)"
	else
		fail "curl + DPoP: the doubly bound token at the sms-api, wanted 200/401/401, got $with / $(dpop_status "$without") / $(dpop_status "$bearer")"
	fi
}

dpop_start plain --tls-client-ca-file "$dpop_dir/ca.pem"
pass "dpop setup: test CA, oauthd at $dpop_issuer and two sms-api replicas serving $dpop_api (TLS, DPoP nonces off)"
dpop_libraries plain
dpop_certificate_checks
dpop_certificate_jwt
dpop_certificate_and_dpop
dpop_fapi_mtls

DPOP_API_NONCE=true dpop_start nonce --dpop-require-nonce
pass "dpop setup: oauthd at $dpop_issuer with dpop.require_nonce=true, two sms-api replicas serving $dpop_api with SMSAPI_DPOP_NONCE=true"
dpop_libraries nonce

if ((failed)); then
	for f in "$dpop_dir"/oauthd-*.log "$dpop_dir"/sms-api-*.log; do
		echo "--- last lines of $f:"
		tail -n 15 "$f"
	done
fi
