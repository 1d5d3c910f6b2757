"""Authlib (Debian's python3-authlib) against a live oauthd.

Discovery, the client-credentials grant with client_secret_basic and
client_secret_post, introspection, revocation, and the error answers as
authlib surfaces them. Run by ../run with /usr/bin/python3 (the interpreter
Debian's package installs into), which sets the variables read below.
"""

import os
import sys
import time
import traceback
from urllib.parse import parse_qs

# oauthd listens on loopback over plain http here. Authlib's metadata
# validators refuse http URLs (other than http://localhost:) unless this is
# set; it is authlib's switch for local testing. Never against a real server.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.base_client import OAuthError  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata, get_well_known_url  # noqa: E402

LIB = "authlib"
failed = 0


def env(name):
    value = os.environ.get(name)
    if not value:
        print(f"FAIL setup: {name} is not set (run this script through .ci/interop/run)")
        sys.exit(1)
    return value


ISSUER = env("OAUTHD_ISSUER")
CLIENT_ID = env("INTEROP_CLIENT_ID")
CLIENT_SECRET = env("INTEROP_CLIENT_SECRET")
RS_ID = env("INTEROP_RS_ID")
RS_SECRET = env("INTEROP_RS_SECRET")
JWT_ID = env("INTEROP_JWT_ID")
JWT_SECRET = env("INTEROP_JWT_SECRET")
WRONG_SECRET = "ocs_" + "x" * 43


def check(name, fn):
    """Run one named check and print PASS or FAIL; later checks still run."""
    global failed
    try:
        fn()
        print(f"PASS {LIB}: {name}")
        return True
    except Exception as err:  # any exception, from an assert or the library
        failed += 1
        last = traceback.format_exception_only(type(err), err)[-1].strip()
        where = traceback.extract_tb(err.__traceback__)[-1]
        print(f"FAIL {LIB}: {name}: {last} ({where.filename}:{where.lineno})")
        return False


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def session(client_id, secret, method, **kwargs):
    """An OAuth2Session that keeps the last HTTP response it received (and so
    the request that was sent) through a plain requests response hook."""
    s = OAuth2Session(
        client_id,
        secret,
        token_endpoint_auth_method=method,
        # authlib signs introspection and revocation requests with this method
        revocation_endpoint_auth_method=method,
        **kwargs,
    )
    s.last = None

    def keep(resp, *args, **kw):
        s.last = resp

    s.hooks["response"].append(keep)
    return s


def sent_form(s):
    """The form the session's last request sent."""
    body = s.last.request.body or ""
    if isinstance(body, bytes):
        body = body.decode()
    return {k: v[0] for k, v in parse_qs(body).items()}


meta = {}
tokens = {}


def discovery():
    url = get_well_known_url(ISSUER, external=True)
    expect(url == ISSUER + "/.well-known/oauth-authorization-server", url)
    # withhold_token: a plain GET, the session has no token to attach yet
    resp = OAuth2Session().get(url, withhold_token=True, timeout=10)
    expect(resp.status_code == 200, f"status {resp.status_code}")
    md = AuthorizationServerMetadata(resp.json())
    # Every RFC 8414 member through authlib's own validators but one:
    # authlib 1.2.0's validate_response_types_supported refuses an empty
    # array, which is what a server without an authorization endpoint has to
    # publish; that member is checked against the RFC in the next check.
    for key in md.REGISTRY_KEYS:
        if key != "response_types_supported":
            getattr(md, "validate_" + key)()
    expect(md.issuer == ISSUER, md.issuer)
    expect(md.grant_types_supported == ["client_credentials"], md.grant_types_supported)
    for m in ("client_secret_basic", "client_secret_post"):
        expect(m in md.token_endpoint_auth_methods_supported, m)
        expect(m in md.revocation_endpoint_auth_methods_supported, m)
        expect(m in md.introspection_endpoint_auth_methods_supported, m)
    meta.update(md)


def response_types_supported():
    # RFC 8414 §2: REQUIRED, a JSON array of the response_type values the
    # server supports. oauthd has no authorization endpoint, so none.
    expect(meta.get("response_types_supported") == [], meta.get("response_types_supported"))


def token_basic():
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_basic", scope="sms")
    tok = s.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    expect(s.last.request.headers.get("Authorization", "").startswith("Basic "), "no Basic header sent")
    expect("client_secret" not in sent_form(s), "client_secret in the body")
    expect(tok["access_token"].startswith("oat_"), tok["access_token"])
    expect(tok["token_type"] == "Bearer", tok["token_type"])
    expect(tok["scope"] == "sms", tok["scope"])
    expect(3500 < tok["expires_in"] <= 3600, tok["expires_in"])
    expect(not tok.is_expired(), "OAuth2Token.is_expired() is true")
    expect(s.last.headers.get("Cache-Control") == "no-store", s.last.headers.get("Cache-Control"))
    tokens["basic"] = tok["access_token"]


def token_post():
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_post")
    tok = s.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    form = sent_form(s)
    expect("Authorization" not in s.last.request.headers, "Authorization header sent")
    expect(form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET, form.keys())
    expect(tok["scope"] == "sms groups", tok["scope"])
    tokens["post"] = tok["access_token"]


def introspect(method, token):
    rs = session(RS_ID, RS_SECRET, method)
    resp = rs.introspect_token(meta["introspection_endpoint"], token=token, token_type_hint="access_token")
    expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")
    return rs, resp.json()


def introspect_basic():
    rs, info = introspect("client_secret_basic", tokens["basic"])
    expect(rs.last.request.headers.get("Authorization", "").startswith("Basic "), "no Basic header sent")
    expect(info["active"] is True, info)
    expect(info["client_id"] == CLIENT_ID and info["sub"] == CLIENT_ID, info)
    expect(info["scope"] == "sms", info)
    expect(info["token_type"] == "Bearer", info)
    expect(info["iss"] == ISSUER, info)
    now = int(time.time())
    expect(info["iat"] <= now + 5 and info["exp"] > now + 3500, info)


def introspect_post():
    rs, info = introspect("client_secret_post", tokens["post"])
    expect(sent_form(rs).get("client_secret") == RS_SECRET, "client_secret not in the body")
    expect(info["active"] is True and info["scope"] == "sms groups", info)


def revoke():
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_basic")
    resp = s.revoke_token(meta["revocation_endpoint"], token=tokens["basic"], token_type_hint="access_token")
    expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")


def inactive_after_revoke():
    _, info = introspect("client_secret_basic", tokens["basic"])
    expect(info == {"active": False}, info)
    _, other = introspect("client_secret_post", tokens["post"])
    expect(other["active"] is True, f"the other token: {other}")


# The error answers. Authlib raises OAuthError with .error set to the body's
# "error" for any token-endpoint answer carrying one; it does not keep the
# status or headers, so the response hook's copy is checked for those.
def token_error(s, **kwargs):
    try:
        s.fetch_token(meta["token_endpoint"], **kwargs)
    except OAuthError as err:
        return err
    raise AssertionError("the token request succeeded but an error answer was expected")


def wrong_secret(method):
    def run():
        s = session(CLIENT_ID, WRONG_SECRET, method)
        err = token_error(s, grant_type="client_credentials")
        expect(err.error == "invalid_client", err.error)
        expect(s.last.status_code == 401, s.last.status_code)
        challenge = s.last.headers.get("WWW-Authenticate", "")
        expect(challenge.lower().startswith("basic"), f"WWW-Authenticate: {challenge!r}")

    return run


def unsupported_grant():
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_basic")
    err = token_error(s, grant_type="password", username="u", password="p")
    expect(err.error == "unsupported_grant_type", err.error)
    expect(s.last.status_code == 400, s.last.status_code)


def unknown_scope():
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_post", scope="sms nosuchscope")
    err = token_error(s, grant_type="client_credentials")
    expect(err.error == "invalid_scope", err.error)
    expect(err.description, "no error_description")
    expect(s.last.status_code == 400, s.last.status_code)


def introspect_without_scope():
    # introspect_token hands back the raw response: no exception to check.
    s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_basic")
    resp = s.introspect_token(meta["introspection_endpoint"], token=tokens["post"])
    expect(resp.status_code == 403, resp.status_code)
    expect(resp.json()["error"] == "insufficient_scope", resp.text)


def jwt_access_token():
    # An independent JOSE implementation (authlib.jose) checks oauthd's RFC
    # 9068 token against the JWKS the metadata names.
    import requests
    from authlib.jose import JsonWebKey, JsonWebToken

    s = session(JWT_ID, JWT_SECRET, "client_secret_basic")
    tok = s.fetch_token(meta["token_endpoint"], grant_type="client_credentials", resource="https://sms.example")
    raw = tok["access_token"]
    jwks = requests.get(meta["jwks_uri"], timeout=10)
    expect(jwks.status_code == 200, jwks.status_code)
    keys = JsonWebKey.import_key_set(jwks.json())
    algs = sorted({k["alg"] for k in jwks.json()["keys"]})
    claims = JsonWebToken(algs).decode(
        raw, keys,
        claims_options={
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": "https://sms.example"},
            "exp": {"essential": True},
            "jti": {"essential": True},
        },
    )
    claims.validate()
    expect(claims.header.get("typ") == "at+jwt", claims.header)
    expect(claims["client_id"] == JWT_ID and claims["sub"] == JWT_ID, claims)
    expect(claims["scope"] == "sms", claims)
    # And oauthd introspects it like any token.
    rs = session(RS_ID, RS_SECRET, "client_secret_basic")
    resp = rs.introspect_token(meta["introspection_endpoint"], token=raw)
    expect(resp.status_code == 200 and resp.json().get("active") is True, resp.text)
    expect(resp.json().get("aud") == ["https://sms.example"], resp.text)


if not check("discovery (RFC 8414) through authlib's metadata validators", discovery):
    print(f"NOTE {LIB}: discovery failed: the remaining checks were not run")
    sys.exit(1)
check("metadata response_types_supported is [] (no authorization endpoint)", response_types_supported)
check("client credentials, client_secret_basic, scope=sms", token_basic)
check("client credentials, client_secret_post, no scope (all of the application's)", token_post)
check("introspection (RFC 7662), resource server with client_secret_basic", introspect_basic)
check("introspection, resource server with client_secret_post", introspect_post)
check("revocation (RFC 7009) by the owning application", revoke)
check('introspection after revocation answers {"active":false}; the other token stays active', inactive_after_revoke)
check("wrong secret (client_secret_basic) -> 401 invalid_client with WWW-Authenticate", wrong_secret("client_secret_basic"))
check("wrong secret (client_secret_post) -> 401 invalid_client with WWW-Authenticate", wrong_secret("client_secret_post"))
check("unsupported grant type -> 400 unsupported_grant_type", unsupported_grant)
check("unknown scope -> 400 invalid_scope", unknown_scope)
check("introspection without tokens:introspect -> 403 insufficient_scope", introspect_without_scope)
check("JWT access token (RFC 9068): authlib.jose verifies it with oauthd's JWKS; iss, aud, typ, claims", jwt_access_token)

sys.exit(1 if failed else 0)
