// oauth4webapi (v3) against a live oauthd: discovery, the client-credentials
// grant with client_secret_basic and client_secret_post, introspection,
// revocation, and the error answers as oauth4webapi surfaces them.
// Run by ../run, which sets the variables read below.
import assert from 'node:assert/strict'
import * as oauth from 'oauth4webapi'
import { check, rejection, env, done, stop, recorder } from './report.mjs'
import { privateKey, certificateFetch, decodeJwt } from './credentials.mjs'

const LIB = 'oauth4webapi'
const issuer = new URL(env('OAUTHD_ISSUER'))
const iss = env('OAUTHD_ISSUER')
const client = { client_id: env('INTEROP_CLIENT_ID') }
const clientSecret = env('INTEROP_CLIENT_SECRET')
const rs = { client_id: env('INTEROP_RS_ID') }
const rsSecret = env('INTEROP_RS_SECRET')

// oauthd listens on loopback over plain http here, and oauth4webapi refuses
// http URLs unless each request is given allowInsecureRequests (a deprecated
// symbol, meant for exactly this: local testing). Never against a real server.
const rec = recorder()
const opts = { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: rec.fetch }

let as
let basicToken, postToken

const discovered = await check(LIB, 'discovery (RFC 8414, /.well-known/oauth-authorization-server)', async () => {
  const response = await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oauth2' })
  assert.equal(rec.last.url, `${iss}/.well-known/oauth-authorization-server`)
  as = await oauth.processDiscoveryResponse(issuer, response) // checks issuer equality
  assert.equal(as.issuer, iss)
  assert.equal(as.token_endpoint, `${iss}/oauth/token`)
  assert.equal(as.introspection_endpoint, `${iss}/oauth/introspect`)
  assert.equal(as.revocation_endpoint, `${iss}/oauth/revoke`)
  assert.deepEqual(as.grant_types_supported, ['client_credentials'])
  assert.deepEqual(as.response_types_supported, [])
  for (const m of ['client_secret_basic', 'client_secret_post']) {
    assert.ok(as.token_endpoint_auth_methods_supported.includes(m), m)
  }
  assert.ok(as.scopes_supported.includes('sms'))
})
if (!discovered) stop(`${LIB}: discovery failed`)

async function grant(auth, parameters) {
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, parameters, opts)
  return oauth.processClientCredentialsResponse(as, client, response)
}

async function introspect(auth, token, caller = rs) {
  const response = await oauth.introspectionRequest(as, caller, auth, token, opts)
  return oauth.processIntrospectionResponse(as, caller, response)
}

await check(LIB, 'client credentials, client_secret_basic, scope=sms groups', async () => {
  const res = await grant(oauth.ClientSecretBasic(clientSecret), { scope: 'sms groups' })
  assert.match(rec.last.authorization ?? '', /^Basic /)
  assert.equal(rec.last.body.get('client_secret'), null)
  assert.equal(rec.last.body.get('grant_type'), 'client_credentials')
  assert.match(res.access_token, /^oat_/)
  assert.equal(res.token_type, 'bearer') // processClientCredentialsResponse lower-cases it
  assert.equal(res.scope, 'sms groups')
  assert.ok(res.expires_in > 3500 && res.expires_in <= 3600, `expires_in ${res.expires_in}`)
  basicToken = res.access_token
})

await check(LIB, 'client credentials, client_secret_post, scope=groups', async () => {
  const res = await grant(oauth.ClientSecretPost(clientSecret), { scope: 'groups' })
  assert.equal(rec.last.authorization, null)
  assert.equal(rec.last.body.get('client_id'), client.client_id)
  assert.equal(rec.last.body.get('client_secret'), clientSecret)
  assert.equal(res.scope, 'groups')
  postToken = res.access_token
})

await check(LIB, 'introspection (RFC 7662), resource server with client_secret_post', async () => {
  const info = await introspect(oauth.ClientSecretPost(rsSecret), basicToken)
  assert.equal(rec.last.authorization, null)
  assert.equal(rec.last.body.get('token'), basicToken)
  assert.equal(info.active, true)
  assert.equal(info.client_id, client.client_id)
  assert.equal(info.sub, client.client_id)
  assert.equal(info.scope, 'sms groups')
  assert.equal(info.token_type, 'Bearer')
  assert.equal(info.iss, iss)
  const now = Math.floor(Date.now() / 1000)
  assert.ok(info.iat <= now + 5 && info.exp > now + 3500, `iat ${info.iat} exp ${info.exp}`)
})

await check(LIB, 'introspection, resource server with client_secret_basic', async () => {
  const info = await introspect(oauth.ClientSecretBasic(rsSecret), postToken)
  assert.match(rec.last.authorization ?? '', /^Basic /)
  assert.equal(info.active, true)
  assert.equal(info.scope, 'groups')
})

await check(LIB, 'revocation (RFC 7009) by the owning application, client_secret_post', async () => {
  const response = await oauth.revocationRequest(as, client, oauth.ClientSecretPost(clientSecret), postToken, opts)
  assert.equal(await oauth.processRevocationResponse(response), undefined)
  assert.equal(rec.last.url, `${iss}/oauth/revoke`)
})

await check(LIB, 'introspection after revocation answers {"active":false}', async () => {
  const info = await introspect(oauth.ClientSecretBasic(rsSecret), postToken)
  assert.deepEqual({ ...info }, { active: false })
})

await check(LIB, 'revoking an unknown token answers 200 too (RFC 7009 §2.2)', async () => {
  const response = await oauth.revocationRequest(as, client, oauth.ClientSecretBasic(clientSecret), 'oat_not_a_token', opts)
  await oauth.processRevocationResponse(response)
  const info = await introspect(oauth.ClientSecretBasic(rsSecret), basicToken)
  assert.equal(info.active, true)
})

// The error answers. A 401 carrying WWW-Authenticate is thrown as
// WWWAuthenticateChallengeError with the parsed challenges (the OAuth error
// code stays in the body, on err.response); other error bodies are thrown as
// ResponseBodyError with .error and .status.
const wrong = 'ocs_' + 'x'.repeat(43)
for (const [method, auth] of [['client_secret_basic', oauth.ClientSecretBasic(wrong)], ['client_secret_post', oauth.ClientSecretPost(wrong)]]) {
  await check(LIB, `wrong secret (${method}) -> 401 invalid_client with WWW-Authenticate`, async () => {
    const err = await rejection(grant(auth, {}))
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
    assert.equal(err.code, oauth.WWW_AUTHENTICATE_CHALLENGE)
    assert.equal(err.status, 401)
    assert.equal(err.cause[0].scheme, 'basic')
    assert.equal(err.cause[0].parameters.realm, 'oauthd')
    const body = await err.response.json()
    assert.equal(body.error, 'invalid_client')
  })
}

await check(LIB, 'unsupported grant type -> 400 unsupported_grant_type', async () => {
  const err = await rejection((async () => {
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.ClientSecretBasic(clientSecret),
      'urn:ietf:params:oauth:grant-type:jwt-bearer', { assertion: 'x.y.z' }, opts)
    return oauth.processGenericTokenEndpointResponse(as, client, response)
  })())
  assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.code, oauth.RESPONSE_BODY_ERROR)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'unsupported_grant_type')
})

await check(LIB, 'unknown scope -> 400 invalid_scope', async () => {
  const err = await rejection(grant(oauth.ClientSecretPost(clientSecret), { scope: 'nosuchscope' }))
  assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'invalid_scope')
  assert.equal(typeof err.error_description, 'string')
})

await check(LIB, 'introspection without tokens:introspect -> 403 insufficient_scope', async () => {
  const err = await rejection(introspect(oauth.ClientSecretBasic(clientSecret), basicToken, client))
  assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 403)
  assert.equal(err.error, 'insufficient_scope')
})

// Client authentication without shared secrets (issue 18), against the
// oauthd replica serving HTTPS (the test CA is trusted via
// NODE_EXTRA_CA_CERTS): private_key_jwt, client_secret_jwt and both mTLS
// methods each get a token, a resource server authenticating with
// private_key_jwt introspects it, the owner revokes it, and introspection
// then answers active false. Then assertions oauthd must refuse, made with
// oauth4webapi's modifyAssertion hook.
const tlsIssuer = new URL(env('OAUTHD_TLS_ISSUER'))
const tlsIss = env('OAUTHD_TLS_ISSUER')
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
const tlsRec = recorder()
const tlsOpts = { [oauth.customFetch]: tlsRec.fetch }

let tlsAs
const tlsDiscovered = await check(LIB, 'HTTPS issuer: discovery, metadata lists the issue-18 methods', async () => {
  const response = await oauth.discoveryRequest(tlsIssuer, { ...tlsOpts, algorithm: 'oauth2' })
  tlsAs = await oauth.processDiscoveryResponse(tlsIssuer, response)
  assert.equal(tlsAs.issuer, tlsIss)
  for (const m of ['private_key_jwt', 'client_secret_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']) {
    assert.ok(tlsAs.token_endpoint_auth_methods_supported.includes(m), m)
  }
  for (const alg of ['EdDSA', 'ES256', 'HS256']) {
    assert.ok(tlsAs.token_endpoint_auth_signing_alg_values_supported?.includes(alg), alg)
  }
})
if (!tlsDiscovered) stop(`${LIB}: discovery of the HTTPS issuer failed`)
await check(LIB, 'HTTPS issuer: metadata lists Ed25519 (RFC 9864), the alg oauth4webapi signs Ed25519 keys with', async () => {
  const algs = tlsAs.token_endpoint_auth_signing_alg_values_supported
  assert.ok(algs?.includes('Ed25519'), `token_endpoint_auth_signing_alg_values_supported: ${algs}`)
})

const rsPk = { client_id: env('INTEROP_RS_PKJWT_ID') }
const rsAuth = oauth.PrivateKeyJwt(await privateKey('rs-es256'))
async function tlsIntrospect(token) {
  const response = await oauth.introspectionRequest(tlsAs, rsPk, rsAuth, token, tlsOpts)
  assert.ok(tlsRec.last.body.get('client_assertion'), 'the resource server sent no client_assertion')
  return oauth.processIntrospectionResponse(tlsAs, rsPk, response)
}

// opts for one client: the recording fetch, over base (global fetch, or a
// fetch presenting a client certificate).
function clientOpts(base) {
  const rec = recorder(base)
  return { rec, opts: { [oauth.customFetch]: rec.fetch } }
}

// oauth4webapi 3 names an Ed25519 signature by its fully-specified JWS
// algorithm, "Ed25519" (RFC 9864), not the polymorphic "EdDSA" that
// openssl-made and authlib assertions carry: both must be accepted.
const pkjwt = { client_id: env('INTEROP_PKJWT_ID') }
const pkjwtKey = await privateKey('pkjwt-es256')
const methods = [
  ['private_key_jwt (Ed25519 key, alg Ed25519)', pkjwt, oauth.PrivateKeyJwt(await privateKey('pkjwt-ed25519')), undefined, (sent) => {
    assert.equal(sent.body.get('client_assertion_type'), ASSERTION_TYPE)
    const { header, payload } = decodeJwt(sent.body.get('client_assertion'))
    assert.equal(header.alg, 'Ed25519')
    assert.equal(payload.iss, pkjwt.client_id)
    assert.equal(payload.aud, tlsIss)
  }],
  ['client_secret_jwt', { client_id: env('INTEROP_CSJWT_ID') }, oauth.ClientSecretJwt(env('INTEROP_CSJWT_SECRET')), undefined, (sent) => {
    assert.equal(sent.body.get('client_secret'), null)
    assert.equal(decodeJwt(sent.body.get('client_assertion')).header.alg, 'HS256')
  }],
  ['tls_client_auth (subject DN)', { client_id: env('INTEROP_MTLS_DN_ID') }, oauth.TlsClientAuth(), certificateFetch('client'), mtlsSent],
  ['tls_client_auth (SAN DNS)', { client_id: env('INTEROP_MTLS_SAN_ID') }, oauth.TlsClientAuth(), certificateFetch('client'), mtlsSent],
  ['self_signed_tls_client_auth', { client_id: env('INTEROP_MTLS_SELF_ID') }, oauth.TlsClientAuth(), certificateFetch('selfsigned'), mtlsSent],
]

function mtlsSent(sent) {
  assert.equal(sent.body.get('client_secret'), null)
  assert.equal(sent.body.get('client_assertion'), null)
}

for (const [method, c, auth, base, sentOK] of methods) {
  const { rec, opts: o } = clientOpts(base)
  let token
  const got = await check(LIB, `${method}: client credentials on the HTTPS issuer`, async () => {
    const response = await oauth.clientCredentialsGrantRequest(tlsAs, c, auth, { scope: 'sms' }, o)
    const res = await oauth.processClientCredentialsResponse(tlsAs, c, response)
    assert.equal(rec.last.authorization, null)
    assert.equal(rec.last.body.get('client_id'), c.client_id)
    sentOK(rec.last)
    assert.match(res.access_token, /^oat_/)
    assert.equal(res.scope, 'sms')
    token = res.access_token
  })
  if (!got) continue
  await check(LIB, `${method}: introspection by a resource server with private_key_jwt`, async () => {
    const info = await tlsIntrospect(token)
    assert.equal(info.active, true)
    assert.equal(info.client_id, c.client_id)
  })
  await check(LIB, `${method}: revocation by the owning application`, async () => {
    const response = await oauth.revocationRequest(tlsAs, c, auth, token, o)
    assert.equal(await oauth.processRevocationResponse(response), undefined)
    sentOK(rec.last)
  })
  await check(LIB, `${method}: introspection after revocation answers {"active":false}`, async () => {
    const info = await tlsIntrospect(token)
    assert.deepEqual({ ...info }, { active: false })
  })
}

// invalidClient checks an error is oauthd's 401 invalid_client, however
// oauth4webapi surfaces it (a challenge error when WWW-Authenticate is set).
async function invalidClient(err) {
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    assert.equal(err.status, 401)
    assert.equal((await err.response.json()).error, 'invalid_client')
    return
  }
  assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 401)
  assert.equal(err.error, 'invalid_client')
}

// The refusals are tried on an application of their own with the same keys,
// so their failures do not lock interop-pkjwt out.
const refusals = { client_id: env('INTEROP_PKJWT_REFUSALS_ID') }
async function pkjwtGrant(auth) {
  const response = await oauth.clientCredentialsGrantRequest(tlsAs, refusals, auth, {}, tlsOpts)
  return oauth.processClientCredentialsResponse(tlsAs, refusals, response)
}
// modified signs private_key_jwt assertions changed by edit(header, payload),
// with the ES256 key, so that only the edit is wrong with them.
const modified = (edit, key = pkjwtKey) => oauth.PrivateKeyJwt(key, { [oauth.modifyAssertion]: edit })

await check(LIB, 'private_key_jwt: an assertion replayed (same jti) -> 401 invalid_client', async () => {
  const jti = crypto.randomUUID()
  const auth = modified((_, payload) => { payload.jti = jti })
  await pkjwtGrant(auth)
  await invalidClient(await rejection(pkjwtGrant(auth)))
})
const refused = [
  ['aud naming another server', (_, p) => { p.aud = 'https://elsewhere.example' }],
  ['expired', (_, p) => { p.iat -= 600; p.nbf -= 600; p.exp = p.iat + 60 }],
  ['exp an hour ahead (more than client_auth.assertion_max_lifetime)', (_, p) => { p.exp = p.iat + 3600 }],
  ['no exp', (_, p) => { delete p.exp }],
  ['iss and sub naming another application', (_, p) => { p.iss = p.sub = env('INTEROP_CSJWT_ID') }],
]
for (const [what, edit] of refused) {
  await check(LIB, `private_key_jwt: an assertion with ${what} -> 401 invalid_client`, async () => {
    await invalidClient(await rejection(pkjwtGrant(modified(edit))))
  })
}
await check(LIB, 'private_key_jwt: signed with a key not registered -> 401 invalid_client', async () => {
  const stranger = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])).privateKey
  await invalidClient(await rejection(pkjwtGrant(oauth.PrivateKeyJwt(stranger))))
})
await check(LIB, 'client_secret_jwt: HMAC with the wrong secret -> 401 invalid_client', async () => {
  const c = { client_id: env('INTEROP_CSJWT_ID') }
  const response = await oauth.clientCredentialsGrantRequest(tlsAs, c, oauth.ClientSecretJwt('ocs_' + 'x'.repeat(43)), {}, tlsOpts)
  await invalidClient(await rejection(oauth.processClientCredentialsResponse(tlsAs, c, response)))
})
await check(LIB, 'private_key_jwt application: a client_secret (basic) is refused like a wrong one -> 401 invalid_client', async () => {
  await invalidClient(await rejection(pkjwtGrant(oauth.ClientSecretBasic('ocs_' + 'x'.repeat(43)))))
})

done()
