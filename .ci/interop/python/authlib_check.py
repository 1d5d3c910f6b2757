"""Authlib (Debian's python3-authlib) against a live oauthd.

Discovery, the client-credentials grant with client_secret_basic and
client_secret_post, introspection, revocation, and the error answers as
authlib surfaces them. Run by ../run with /usr/bin/python3 (the interpreter
Debian's package installs into), which sets the variables read below.
"""

import json
import os
import sys
import time
import traceback
import uuid
from urllib.parse import parse_qs

# oauthd listens on loopback over plain http here. Authlib's metadata
# validators refuse http URLs (other than http://localhost:) unless this is
# set; it is authlib's switch for local testing. Never against a real server.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.base_client import OAuthError  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebSignature  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT  # noqa: E402
from authlib.oauth2.rfc7523.assertion import client_secret_jwt_sign, private_key_jwt_sign  # noqa: E402
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
def token_error(s, url=None, **kwargs):
    try:
        s.fetch_token(url or meta["token_endpoint"], **kwargs)
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


def dpop_typ_spellings():
    """DPoP proofs (RFC 9449) signed by authlib.jose with typ spelled as RFC
    7515 §4.1.9 lets a producer spell the media type: each gets a DPoP
    token; a typ naming another media type is 400 invalid_dpop_proof."""
    key = JsonWebKey.generate_key("EC", "P-256", is_private=True)
    jws = JsonWebSignature(algorithms=["ES256"])
    url = meta["token_endpoint"]
    for typ, status in (("dpop+jwt", 200), ("application/dpop+jwt", 200), ("DPoP+JWT", 200), ("application/jwt", 400)):
        header = {"typ": typ, "alg": "ES256", "jwk": key.as_dict(is_private=False)}
        claims = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": url, "iat": int(time.time())}
        proof = jws.serialize_compact(header, json.dumps(claims).encode(), key).decode()
        # fetch_token's headers replace its defaults: the form's and
        # JSON's are given again beside the proof.
        s = session(CLIENT_ID, CLIENT_SECRET, "client_secret_basic", scope="sms")
        headers = {"Accept": "application/json", "DPoP": proof,
                   "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}
        try:
            token = s.fetch_token(url, grant_type="client_credentials", headers=headers, timeout=10)
        except OAuthError as err:
            expect(status == 400 and err.error == "invalid_dpop_proof" and s.last.status_code == 400,
                   f"typ {typ}: {err.error}: {err.description} (status {s.last.status_code})")
            continue
        expect(status == 200 and token.get("token_type") == "DPoP", f"typ {typ}: {token}")


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


# Client authentication without shared secrets (issue 18), against the oauthd
# replica serving HTTPS (the test CA is trusted via REQUESTS_CA_BUNDLE):
# authlib's PrivateKeyJWT and ClientSecretJWT each get a token, a resource
# server authenticating with PrivateKeyJWT introspects it, the owner revokes
# it, and introspection then answers active false.
TLS_ISSUER = env("OAUTHD_TLS_ISSUER")
PKI = env("INTEROP_PKI")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
tls_meta = {}


def pem(name):
    with open(os.path.join(PKI, name + ".key")) as f:
        return f.read()


def short_lived(cls):
    """authlib 1.2's PrivateKeyJWT and ClientSecretJWT sign assertions valid
    for an hour (exp = iat + 3600), and oauthd accepts at most
    client_auth.assertion_max_lifetime (5 minutes by default). Their claims=
    argument cannot shorten that: authlib stores a jti in the dict it is given
    and so signs every later assertion with the same jti, which oauthd refuses
    as a replay. So this subclass only passes expires_in=60 to authlib's own
    signing function."""

    class ShortLived(cls):
        def sign(self, auth, token_endpoint):
            sign = private_key_jwt_sign if self.name == "private_key_jwt" else client_secret_jwt_sign
            return sign(auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
                        alg=self.alg, expires_in=60)

    return ShortLived


def jwt_session(client_id, key, auth_class, alg, token_endpoint=None):
    """An OAuth2Session signing client assertions with authlib's auth_class
    (registered under its RFC 7591 name, as authlib documents), for the
    token endpoint and, with the same method, for introspection and
    revocation. With token_endpoint None authlib uses each request's URL as
    the assertion's aud."""
    s = session(client_id, key, auth_class.name)
    s.register_client_auth_method(auth_class(token_endpoint, alg=alg))
    return s


def sent_assertion(s):
    """The header and claims of the client assertion the last request sent."""
    import base64
    import json

    form = sent_form(s)
    expect(form.get("client_assertion_type") == ASSERTION_TYPE, form.keys())
    expect("client_secret" not in form and "Authorization" not in s.last.request.headers, "a secret was sent")
    header, claims = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                      for p in form["client_assertion"].split(".")[:2])
    return header, claims


def tls_discovery():
    resp = OAuth2Session().get(get_well_known_url(TLS_ISSUER, external=True), withhold_token=True, timeout=10)
    expect(resp.status_code == 200, f"status {resp.status_code}")
    md = AuthorizationServerMetadata(resp.json())
    for key in md.REGISTRY_KEYS:
        if key != "response_types_supported":
            getattr(md, "validate_" + key)()
    expect(md.issuer == TLS_ISSUER, md.issuer)
    for m in ("private_key_jwt", "client_secret_jwt"):
        expect(m in md.token_endpoint_auth_methods_supported, m)
        expect(m in md.introspection_endpoint_auth_methods_supported, m)
        expect(m in md.revocation_endpoint_auth_methods_supported, m)
    for alg in ("ES256", "EdDSA", "HS256"):
        expect(alg in (md.get("token_endpoint_auth_signing_alg_values_supported") or []), alg)
    tls_meta.update(md)


def resource_server():
    # aud: the introspection endpoint's URL (no token_endpoint given).
    return jwt_session(env("INTEROP_RS_PKJWT_ID"), pem("rs-es256"), short_lived(PrivateKeyJWT), "ES256")


def jwt_flow(label, client_id, key, auth_class, alg):
    token_endpoint = tls_meta.get("token_endpoint", TLS_ISSUER + "/oauth/token")
    state = {}

    def owner():
        return jwt_session(client_id, key, short_lived(auth_class), alg, token_endpoint)

    def token():
        s = owner()
        tok = s.fetch_token(token_endpoint, grant_type="client_credentials", scope="sms")
        header, claims = sent_assertion(s)
        expect(header["alg"] == alg, header)
        expect(claims["iss"] == client_id and claims["sub"] == client_id, claims)
        expect(claims["aud"] == token_endpoint, claims)
        expect(tok["access_token"].startswith("oat_") and tok["scope"] == "sms", tok)
        state["token"] = tok["access_token"]

    def introspect():
        rs = resource_server()
        resp = rs.introspect_token(tls_meta["introspection_endpoint"], token=state["token"])
        expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")
        _, claims = sent_assertion(rs)
        expect(claims["aud"] == tls_meta["introspection_endpoint"], claims)
        info = resp.json()
        expect(info["active"] is True and info["client_id"] == client_id, info)

    def revoke():
        s = owner()
        resp = s.revoke_token(tls_meta["revocation_endpoint"], token=state["token"], token_type_hint="access_token")
        expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")
        sent_assertion(s)

    def inactive():
        resp = resource_server().introspect_token(tls_meta["introspection_endpoint"], token=state["token"])
        expect(resp.status_code == 200 and resp.json() == {"active": False}, resp.text)

    if not check(f"{label}: client credentials on the HTTPS issuer (aud: the token endpoint)", token):
        return
    check(f"{label}: introspection by a resource server with PrivateKeyJWT (aud: the introspection endpoint)",
          introspect)
    check(f"{label}: revocation by the owning application", revoke)
    check(f'{label}: introspection after revocation answers {{"active":false}}', inactive)


def default_lifetime_refused():
    # authlib's PrivateKeyJWT as it comes: exp an hour after iat.
    token_endpoint = tls_meta["token_endpoint"]
    s = jwt_session(env("INTEROP_PKJWT_ID"), pem("pkjwt-es256"), PrivateKeyJWT, "ES256", token_endpoint)
    err = token_error(s, token_endpoint, grant_type="client_credentials")
    _, claims = sent_assertion(s)
    expect(s.last.url == token_endpoint, s.last.url)
    expect(claims["exp"] - claims["iat"] == 3600, claims)
    expect(err.error == "invalid_client", err.error)
    expect(s.last.status_code == 401, s.last.status_code)


def mtls_flow(label, client_id, cert):
    """tls_client_auth or self_signed_tls_client_auth: authlib has no class
    for them and needs none. Its "none" method sends the client_id in the
    form, and the requests session presents the client certificate."""
    state = {}

    def owner():
        s = session(client_id, None, "none")
        s.cert = (os.path.join(PKI, cert + ".pem"), os.path.join(PKI, cert + ".key"))
        return s

    def token():
        s = owner()
        tok = s.fetch_token(tls_meta["token_endpoint"], grant_type="client_credentials", scope="sms")
        form = sent_form(s)
        expect(form.get("client_id") == client_id and "client_secret" not in form, form.keys())
        expect("Authorization" not in s.last.request.headers, "Authorization header sent")
        expect(tok["access_token"].startswith("oat_") and tok["scope"] == "sms", tok)
        state["token"] = tok["access_token"]

    def introspect():
        resp = resource_server().introspect_token(tls_meta["introspection_endpoint"], token=state["token"])
        expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")
        info = resp.json()
        expect(info["active"] is True and info["client_id"] == client_id, info)

    def revoke():
        resp = owner().revoke_token(tls_meta["revocation_endpoint"], token=state["token"])
        expect(resp.status_code == 200, f"status {resp.status_code}: {resp.text}")
        resp = resource_server().introspect_token(tls_meta["introspection_endpoint"], token=state["token"])
        expect(resp.status_code == 200 and resp.json() == {"active": False}, resp.text)

    if not check(f"{label}: client credentials with a client certificate (requests' cert=)", token):
        return
    check(f"{label}: introspection by a resource server with PrivateKeyJWT", introspect)
    check(f'{label}: revocation with the certificate, then introspection answers {{"active":false}}', revoke)


def issue18():
    if not check("HTTPS issuer: discovery through authlib's validators; private_key_jwt, client_secret_jwt and "
                 "their algorithms listed", tls_discovery):
        return
    jwt_flow("PrivateKeyJWT (ES256)", env("INTEROP_PKJWT_ID"), pem("pkjwt-es256"), PrivateKeyJWT, "ES256")
    jwt_flow("PrivateKeyJWT (EdDSA)", env("INTEROP_PKJWT_ID"), pem("pkjwt-ed25519"), PrivateKeyJWT, "EdDSA")
    jwt_flow("ClientSecretJWT (HS256)", env("INTEROP_CSJWT_ID"), env("INTEROP_CSJWT_SECRET"), ClientSecretJWT, "HS256")
    mtls_flow("tls_client_auth", env("INTEROP_MTLS_DN_ID"), "client")
    mtls_flow("self_signed_tls_client_auth", env("INTEROP_MTLS_SELF_ID"), "selfsigned")
    check("PrivateKeyJWT with authlib's default lifetime (exp = iat + 1h, over the 5 minute limit) "
          "-> 401 invalid_client", default_lifetime_refused)


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
check("DPoP proofs signed by authlib.jose, typ dpop+jwt, application/dpop+jwt and DPoP+JWT -> token_type DPoP; "
      "typ application/jwt -> 400 invalid_dpop_proof", dpop_typ_spellings)

issue18()

sys.exit(1 if failed else 0)
