// openid-client (v6) against a live oauthd: discovery, the client-credentials
// grant with client_secret_basic and client_secret_post, introspection,
// revocation, and the error answers as openid-client surfaces them.
// Run by ../run, which sets the variables read below.
import assert from 'node:assert/strict'
import * as client from 'openid-client'
import { check, rejection, env, done, stop, recorder } from './report.mjs'
import { privateKey, certificateFetch, decodeJwt } from './credentials.mjs'

const LIB = 'openid-client'
const issuer = env('OAUTHD_ISSUER')
const clientId = env('INTEROP_CLIENT_ID')
const clientSecret = env('INTEROP_CLIENT_SECRET')
const rsId = env('INTEROP_RS_ID')
const rsSecret = env('INTEROP_RS_SECRET')

// oauthd listens on loopback over plain http here, and openid-client refuses
// http issuers unless allowInsecureRequests is applied (to the discovery
// request too, when given in `execute`). Never do this against a real server.
const insecure = { algorithm: 'oauth2', execute: [client.allowInsecureRequests] }

// discover makes a Configuration from oauthd's RFC 8414 metadata, with a
// fetch that records the last request.
async function discover(id, secret, auth) {
  const rec = recorder()
  const config = await client.discovery(new URL(issuer), id, secret, auth, {
    ...insecure,
    [client.customFetch]: rec.fetch,
  })
  return { config, rec }
}

let basic, post, rsBasic, rsPost
let basicToken, postToken

const discovered = await check(LIB, 'discovery (RFC 8414, /.well-known/oauth-authorization-server)', async () => {
  basic = await discover(clientId, clientSecret, client.ClientSecretBasic())
  assert.equal(basic.rec.last.url, `${issuer}/.well-known/oauth-authorization-server`)
  const md = basic.config.serverMetadata()
  assert.equal(md.issuer, issuer)
  assert.equal(md.token_endpoint, `${issuer}/oauth/token`)
  assert.equal(md.introspection_endpoint, `${issuer}/oauth/introspect`)
  assert.equal(md.revocation_endpoint, `${issuer}/oauth/revoke`)
  assert.deepEqual(md.grant_types_supported, ['client_credentials'])
  for (const m of ['client_secret_basic', 'client_secret_post']) {
    assert.ok(md.token_endpoint_auth_methods_supported.includes(m), m)
    assert.ok(md.introspection_endpoint_auth_methods_supported.includes(m), m)
    assert.ok(md.revocation_endpoint_auth_methods_supported.includes(m), m)
  }
  post = await discover(clientId, clientSecret, client.ClientSecretPost())
  rsBasic = await discover(rsId, rsSecret, client.ClientSecretBasic())
  rsPost = await discover(rsId, rsSecret, client.ClientSecretPost())
})
if (!discovered) stop(`${LIB}: discovery failed`)

await check(LIB, 'client credentials, client_secret_basic, scope=sms', async () => {
  const res = await client.clientCredentialsGrant(basic.config, { scope: 'sms' })
  const sent = basic.rec.last
  assert.match(sent.authorization ?? '', /^Basic /)
  assert.equal(sent.body.get('client_secret'), null)
  assert.match(res.access_token, /^oat_/)
  assert.equal(res.token_type, 'bearer') // oauth4webapi lower-cases it
  assert.equal(res.scope, 'sms')
  assert.ok(res.expires_in > 3500 && res.expires_in <= 3600, `expires_in ${res.expires_in}`)
  assert.ok(res.expiresIn() > 3500)
  basicToken = res.access_token
})

await check(LIB, 'client credentials, client_secret_post, no scope (all of the application\'s)', async () => {
  const res = await client.clientCredentialsGrant(post.config)
  const sent = post.rec.last
  assert.equal(sent.authorization, null)
  assert.equal(sent.body.get('client_id'), clientId)
  assert.equal(sent.body.get('client_secret'), clientSecret)
  assert.equal(res.scope, 'sms groups')
  postToken = res.access_token
})

await check(LIB, 'introspection (RFC 7662), resource server with client_secret_basic', async () => {
  const info = await client.tokenIntrospection(rsBasic.config, basicToken)
  assert.match(rsBasic.rec.last.authorization ?? '', /^Basic /)
  assert.equal(info.active, true)
  assert.equal(info.client_id, clientId)
  assert.equal(info.sub, clientId)
  assert.equal(info.scope, 'sms')
  assert.equal(info.token_type, 'Bearer')
  assert.equal(info.iss, issuer)
  assert.equal(typeof info.jti, 'string')
  const now = Math.floor(Date.now() / 1000)
  assert.ok(info.iat <= now + 5 && info.exp > now + 3500, `iat ${info.iat} exp ${info.exp}`)
})

await check(LIB, 'introspection, resource server with client_secret_post', async () => {
  const info = await client.tokenIntrospection(rsPost.config, postToken)
  assert.equal(rsPost.rec.last.authorization, null)
  assert.equal(rsPost.rec.last.body.get('client_secret'), rsSecret)
  assert.equal(info.active, true)
  assert.equal(info.scope, 'sms groups')
})

await check(LIB, 'revocation (RFC 7009) by the owning application', async () => {
  await client.tokenRevocation(basic.config, basicToken)
  assert.equal(basic.rec.last.url, `${issuer}/oauth/revoke`)
})

await check(LIB, 'introspection after revocation answers {"active":false}', async () => {
  const info = await client.tokenIntrospection(rsBasic.config, basicToken)
  assert.deepEqual({ ...info }, { active: false })
})

await check(LIB, 'the other token stays active after one is revoked', async () => {
  const info = await client.tokenIntrospection(rsBasic.config, postToken)
  assert.equal(info.active, true)
})

// The error answers. openid-client rethrows oauth4webapi's errors: a 401 with
// WWW-Authenticate becomes WWWAuthenticateChallengeError (the OAuth error code
// stays in the body, which the library leaves unread on err.response); other
// error bodies become ResponseBodyError with .error and .status.
function wrongSecretConfig(auth) {
  const config = new client.Configuration(basic.config.serverMetadata(), clientId, 'ocs_' + 'x'.repeat(43), auth)
  client.allowInsecureRequests(config)
  return config
}

for (const [method, auth] of [['client_secret_basic', client.ClientSecretBasic()], ['client_secret_post', client.ClientSecretPost()]]) {
  await check(LIB, `wrong secret (${method}) -> 401 invalid_client with WWW-Authenticate`, async () => {
    const err = await rejection(client.clientCredentialsGrant(wrongSecretConfig(auth)))
    assert.ok(err instanceof client.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
    assert.equal(err.code, 'OAUTH_WWW_AUTHENTICATE_CHALLENGE')
    assert.equal(err.status, 401)
    assert.equal(err.cause[0].scheme, 'basic')
    const body = await err.response.json()
    assert.equal(body.error, 'invalid_client')
  })
}

await check(LIB, 'unsupported grant type -> 400 unsupported_grant_type', async () => {
  const err = await rejection(client.genericGrantRequest(basic.config, 'password', { username: 'u', password: 'p' }))
  assert.ok(err instanceof client.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.code, 'OAUTH_RESPONSE_BODY_ERROR')
  assert.equal(err.status, 400)
  assert.equal(err.error, 'unsupported_grant_type')
})

await check(LIB, 'unknown scope -> 400 invalid_scope', async () => {
  const err = await rejection(client.clientCredentialsGrant(basic.config, { scope: 'sms nosuchscope' }))
  assert.ok(err instanceof client.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'invalid_scope')
})

await check(LIB, 'introspection without tokens:introspect -> 403 insufficient_scope', async () => {
  const err = await rejection(client.tokenIntrospection(basic.config, postToken))
  assert.ok(err instanceof client.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 403)
  assert.equal(err.error, 'insufficient_scope')
})

// Client authentication without shared secrets (issue 18), against the
// oauthd replica serving HTTPS (the test CA is trusted via
// NODE_EXTRA_CA_CERTS): private_key_jwt, client_secret_jwt and both mTLS
// methods each get a token, a resource server authenticating with
// private_key_jwt introspects it, the owner revokes it, and introspection
// then answers active false.
const tlsIssuer = env('OAUTHD_TLS_ISSUER')
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

// discoverTls makes a Configuration for the HTTPS issuer, recording the
// requests sent through base (global fetch, or one with a certificate).
async function discoverTls(id, auth, base) {
  const rec = recorder(base)
  const config = await client.discovery(new URL(tlsIssuer), id, undefined, auth, {
    algorithm: 'oauth2',
    [client.customFetch]: rec.fetch,
  })
  return { config, rec }
}

let rsTls
const tlsDiscovered = await check(LIB, 'HTTPS issuer: metadata lists the issue-18 methods and signing algorithms', async () => {
  rsTls = await discoverTls(env('INTEROP_RS_PKJWT_ID'), client.PrivateKeyJwt(await privateKey('rs-es256')))
  const md = rsTls.config.serverMetadata()
  assert.equal(md.issuer, tlsIssuer)
  for (const endpoint of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
    for (const m of ['private_key_jwt', 'client_secret_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']) {
      assert.ok(md[`${endpoint}_auth_methods_supported`]?.includes(m), `${endpoint}_auth_methods_supported lacks ${m}`)
    }
    const algs = md[`${endpoint}_auth_signing_alg_values_supported`]
    for (const alg of ['EdDSA', 'ES256', 'PS256', 'RS256', 'HS256']) {
      assert.ok(algs?.includes(alg), `${endpoint}_auth_signing_alg_values_supported lacks ${alg}: ${algs}`)
    }
    assert.ok(!algs.includes('none'), `${endpoint}_auth_signing_alg_values_supported lists none`)
  }
})
if (!tlsDiscovered) stop(`${LIB}: discovery of the HTTPS issuer failed`)

// Each method: what the library must have sent, checked on the recorded
// token request.
const methods = [
  ['private_key_jwt (ES256)', env('INTEROP_PKJWT_ID'), async () => client.PrivateKeyJwt(await privateKey('pkjwt-es256')), undefined,
    (sent, id) => {
      assert.equal(sent.authorization, null)
      assert.equal(sent.body.get('client_assertion_type'), ASSERTION_TYPE)
      const { header, payload } = decodeJwt(sent.body.get('client_assertion'))
      assert.equal(header.alg, 'ES256')
      assert.equal(payload.iss, id)
      assert.equal(payload.sub, id)
      assert.equal(payload.aud, tlsIssuer)
    }],
  ['client_secret_jwt', env('INTEROP_CSJWT_ID'), async () => client.ClientSecretJwt(env('INTEROP_CSJWT_SECRET')), undefined,
    (sent) => {
      assert.equal(sent.authorization, null)
      assert.equal(sent.body.get('client_secret'), null)
      assert.equal(decodeJwt(sent.body.get('client_assertion')).header.alg, 'HS256')
    }],
  ['tls_client_auth (subject DN)', env('INTEROP_MTLS_DN_ID'), async () => client.TlsClientAuth(), certificateFetch('client'), mtlsSent],
  ['tls_client_auth (SAN DNS)', env('INTEROP_MTLS_SAN_ID'), async () => client.TlsClientAuth(), certificateFetch('client'), mtlsSent],
  ['self_signed_tls_client_auth', env('INTEROP_MTLS_SELF_ID'), async () => client.TlsClientAuth(), certificateFetch('selfsigned'), mtlsSent],
]

// mtlsSent: with TlsClientAuth the request carries the client_id and nothing
// else of the client's: the certificate is in the TLS handshake.
function mtlsSent(sent, id) {
  assert.equal(sent.authorization, null)
  assert.equal(sent.body.get('client_id'), id)
  assert.equal(sent.body.get('client_secret'), null)
  assert.equal(sent.body.get('client_assertion'), null)
}

for (const [method, id, auth, base, sentOK] of methods) {
  let owner, token
  const got = await check(LIB, `${method}: client credentials on the HTTPS issuer`, async () => {
    owner = await discoverTls(id, await auth(), base)
    const res = await client.clientCredentialsGrant(owner.config, { scope: 'sms' })
    sentOK(owner.rec.last, id)
    assert.match(res.access_token, /^oat_/)
    assert.equal(res.scope, 'sms')
    token = res.access_token
  })
  if (!got) continue
  await check(LIB, `${method}: introspection by a resource server with private_key_jwt`, async () => {
    const info = await client.tokenIntrospection(rsTls.config, token)
    assert.ok(rsTls.rec.last.body.get('client_assertion'), 'no client_assertion sent')
    assert.equal(info.active, true)
    assert.equal(info.client_id, id)
    assert.equal(info.scope, 'sms')
  })
  await check(LIB, `${method}: revocation by the owning application`, async () => {
    await client.tokenRevocation(owner.config, token)
    assert.equal(owner.rec.last.url, `${tlsIssuer}/oauth/revoke`)
    sentOK(owner.rec.last, id)
  })
  await check(LIB, `${method}: introspection after revocation answers {"active":false}`, async () => {
    const info = await client.tokenIntrospection(rsTls.config, token)
    assert.deepEqual({ ...info }, { active: false })
  })
}

// RFC 8705 §5: with use_mtls_endpoint_aliases the library sends its mTLS
// requests to the endpoints of mtls_endpoint_aliases (here replica 2,
// client_auth.mtls_base_url) instead of the plain ones.
const replica = env('OAUTHD_TLS_REPLICA')
await check(LIB, 'metadata mtls_endpoint_aliases names client_auth.mtls_base_url\'s endpoints', async () => {
  const aliases = rsTls.config.serverMetadata().mtls_endpoint_aliases
  assert.equal(aliases?.token_endpoint, `${replica}/oauth/token`)
  assert.equal(aliases?.introspection_endpoint, `${replica}/oauth/introspect`)
  assert.equal(aliases?.revocation_endpoint, `${replica}/oauth/revoke`)
})
{
  const id = env('INTEROP_MTLS_DN_ID')
  const rec = recorder(certificateFetch('client'))
  let config, token
  const got = await check(LIB, 'tls_client_auth with use_mtls_endpoint_aliases: token from the alias', async () => {
    config = await client.discovery(new URL(tlsIssuer), id, { use_mtls_endpoint_aliases: true }, client.TlsClientAuth(), {
      algorithm: 'oauth2',
      [client.customFetch]: rec.fetch,
    })
    const res = await client.clientCredentialsGrant(config, { scope: 'sms' })
    assert.equal(rec.last.url, `${replica}/oauth/token`)
    token = res.access_token
  })
  if (got) {
    await check(LIB, 'tls_client_auth with use_mtls_endpoint_aliases: revocation at the alias, then inactive', async () => {
      await client.tokenRevocation(config, token)
      assert.equal(rec.last.url, `${replica}/oauth/revoke`)
      const info = await client.tokenIntrospection(rsTls.config, token)
      assert.equal(info.active, false)
    })
  }
}

done()
