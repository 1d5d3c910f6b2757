// oauth4webapi (v3) DPoP (RFC 9449) against a live oauthd and the example
// sms-api, both over HTTPS under the suite's test CA (NODE_EXTRA_CA_CERTS):
// a client-credentials grant with a DPoP handle gets a DPoP-bound token,
// protectedResourceRequest with the handle is served, and the same token is
// refused as Bearer, with another key's proof, and with a replayed proof.
// With DPOP_NONCE=nonce, oauthd (dpop.require_nonce) and the sms-api
// (SMSAPI_DPOP_NONCE) ask for nonces: oauth4webapi caches the DPoP-Nonce
// it is given and the caller repeats the request once, on
// isDPoPNonceError, as its documentation shows.
// Run by ../dpop.sh, which sets the variables read below.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import * as oauth from 'oauth4webapi'
import { check, rejection, env, done, stop } from './report.mjs'

const mode = env('DPOP_NONCE')
const nonces = mode === 'nonce'
const LIB = `oauth4webapi DPoP (${mode})`
const issuer = new URL(env('DPOP_ISSUER'))
const api = env('DPOP_API')
const client = { client_id: env('DPOP_CLIENT_ID') }
const auth = oauth.ClientSecretBasic(env('DPOP_CLIENT_SECRET'))
const rs = { client_id: env('DPOP_RS_ID') }
const rsAuth = oauth.ClientSecretBasic(env('DPOP_RS_SECRET'))

// sent records every request's DPoP proof and answer status, to show which
// requests carried a proof, with which nonce, and how many were refused.
const sent = []
const opts = {
  [oauth.customFetch]: async (url, options) => {
    const proof = new Headers(options?.headers).get('dpop')
    const response = await fetch(url, options)
    sent.push({ url: String(url), proof, status: response.status, authorization: new Headers(options?.headers).get('authorization'), body: options?.body })
    return response
  },
}

// claims decodes a proof's payload (it was just made here; no check needed).
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'))

// once runs a request and, with nonces on, repeats it once when the answer
// asks for a nonce: the handle has cached the DPoP-Nonce by then.
async function once(fn) {
  try {
    return await fn()
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    return fn()
  }
}

let as
const discovered = await check(LIB, 'discovery over https: dpop_signing_alg_values_supported, tls_client_certificate_bound_access_tokens', async () => {
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...opts, algorithm: 'oauth2' }))
  assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'), JSON.stringify(as.dpop_signing_alg_values_supported))
  assert.equal(as.tls_client_certificate_bound_access_tokens, true)
})
if (!discovered) stop(`${LIB}: discovery failed`)

const keyPair = await oauth.generateKeyPair('ES256')
const DPoP = oauth.DPoP(client, keyPair)
let token

const granted = await check(LIB, 'client credentials with DPoP() -> token_type DPoP' + (nonces ? ', after use_dpop_nonce' : ''), async () => {
  const from = sent.length
  const res = await once(async () => oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'sms groups' }, { ...opts, DPoP })))
  assert.equal(res.token_type, 'dpop') // oauth4webapi lower-cases it
  assert.equal(res.scope, 'sms groups')
  const tries = sent.slice(from)
  assert.ok(tries.every((t) => t.proof), 'every token request carries a proof')
  if (nonces) {
    assert.deepEqual(tries.map((t) => t.status), [400, 200])
    assert.equal(claims(tries[0].proof).nonce, undefined)
    assert.equal(typeof claims(tries[1].proof).nonce, 'string')
  } else {
    assert.deepEqual(tries.map((t) => t.status), [200])
  }
  token = res.access_token
})
if (!granted) stop(`${LIB}: no DPoP-bound token`)

await check(LIB, 'introspection: cnf.jkt is the DPoP key\'s thumbprint (RFC 7638)', async () => {
  const info = await oauth.processIntrospectionResponse(as, rs, await oauth.introspectionRequest(as, rs, rsAuth, token, opts))
  assert.equal(info.active, true)
  assert.equal(info.token_type, 'DPoP')
  assert.equal(info.cnf?.jkt, await DPoP.calculateThumbprint())
})

const groups = new URL(`${api}/v1/groups`)
let lastProof

await check(LIB, 'protectedResourceRequest GET /v1/groups with the DPoP handle -> 200' + (nonces ? ', after use_dpop_nonce' : ''), async () => {
  const from = sent.length
  const response = await once(() => oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, { ...opts, DPoP }))
  assert.equal(response.status, 200)
  assert.equal((await response.json()).groups.length, 2)
  const tries = sent.slice(from)
  assert.match(tries.at(-1).authorization, /^DPoP /)
  assert.equal(claims(tries.at(-1).proof).ath.length, 43)
  assert.deepEqual(tries.map((t) => t.status), nonces ? [401, 200] : [200])
  lastProof = tries.at(-1).proof
})

await check(LIB, 'protectedResourceRequest POST /v1/sms with the DPoP handle -> 201', async () => {
  const headers = new Headers({ 'content-type': 'application/json' })
  const body = JSON.stringify({ to: ['+447700900123'], text: 'bound' })
  const response = await once(() => oauth.protectedResourceRequest(token, 'POST', new URL(`${api}/v1/sms`), headers, body, { ...opts, DPoP }))
  assert.equal(response.status, 201)
})

// challenge reads the error code of the sms-api's DPoP or Bearer challenge.
function challenge(err) {
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 401)
  return err.cause.find((c) => c.parameters.error)?.parameters.error
}

await check(LIB, 'the same token as Bearer (no DPoP handle) -> 401 invalid_token', async () => {
  const err = await rejection(oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, opts))
  assert.match(sent.at(-1).authorization, /^Bearer /)
  assert.equal(challenge(err), 'invalid_token')
})

await check(LIB, 'the same token with another key\'s DPoP proof -> 401 invalid_token', async () => {
  const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
  const err = await rejection(once(() => oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, { ...opts, DPoP: other })))
  assert.equal(challenge(err), 'invalid_token')
})

// Proofs made wrong on purpose, with oauth4webapi's modifyAssertion hook on
// the same key: each is refused with invalid_dpop_proof, and the
// description names what was wrong (so a check cannot pass for another
// reason). At the sms-api first, then at oauthd's token endpoint.
const tamperings = [
  ['htm not the method', (h, p) => { p.htm = p.htm === 'GET' ? 'POST' : 'GET' }, /htm/],
  ['htu another URL', (h, p) => { p.htu = `${api}/v1/sms` }, /htu/],
  ['iat 10 minutes old', (h, p) => { p.iat -= 600 }, /iat/],
  ['iat 10 minutes ahead', (h, p) => { p.iat += 600 }, /iat/],
  ['no ath', (h, p) => { delete p.ath }, /ath/],
  ['ath of another token', (h, p) => { p.ath = Buffer.alloc(32).toString('base64url') }, /ath/],
  ['typ JWT', (h) => { h.typ = 'JWT' }, /typ/],
]
for (const [what, edit, reason] of tamperings) {
  await check(LIB, `sms-api: a proof with ${what} -> 401 invalid_dpop_proof`, async () => {
    const bad = oauth.DPoP(client, keyPair, { [oauth.modifyAssertion]: edit })
    const err = await rejection(once(() => oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, { ...opts, DPoP: bad })))
    assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
    const dpopChallenge = err.cause.find((c) => c.scheme === 'dpop')
    assert.equal(dpopChallenge?.parameters.error, 'invalid_dpop_proof', JSON.stringify(err.cause))
    assert.match(dpopChallenge.parameters.error_description, reason)
  })
}
for (const [what, edit, reason] of tamperings.filter(([w]) => !w.includes('ath'))) {
  await check(LIB, `token endpoint: a proof with ${what} -> 400 invalid_dpop_proof`, async () => {
    const bad = oauth.DPoP(client, keyPair, {
      [oauth.modifyAssertion]: (h, p) => { edit(h, p); if (p.htu.startsWith(api)) p.htu = `${issuer.href.replace(/\/$/, '')}/oauth/revoke` },
    })
    const err = await rejection(once(async () => oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, {}, { ...opts, DPoP: bad }))))
    assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
    assert.equal(err.status, 400)
    assert.equal(err.error, 'invalid_dpop_proof')
    assert.match(err.error_description, reason)
  })
}

// replayed sends a proof again, as a thief who copied the request would,
// to url (one replica's own address); the answer must name the replay.
async function replayed(url, proof) {
  assert.ok(proof, 'no accepted proof to replay (the call above failed)')
  const response = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } })
  assert.equal(response.status, 401)
  const header = response.headers.get('www-authenticate') ?? ''
  assert.match(header, /error="invalid_dpop_proof"/)
  assert.match(header, /used before/, header)
}

await check(LIB, 'a proof sent twice (replayed) -> 401 invalid_dpop_proof', async () => {
  await replayed(groups, lastProof)
})

// The second replica is reached at its own address, while the proofs name
// the public URL both replicas serve (SMSAPI_PUBLIC_URL): as behind a
// load balancer.
const replica = env('DPOP_REPLICA')
const toReplica = { ...opts, [oauth.customFetch]: (url, options) => opts[oauth.customFetch](String(url).replace(api, replica), options) }

await check(LIB, 'the second sms-api replica serves a fresh proof for the public URL -> 200', async () => {
  const response = await once(() => oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, { ...toReplica, DPoP }))
  assert.equal(response.status, 200)
  assert.ok(sent.at(-1).url.startsWith(replica))
})

await check(LIB, 'a proof the first replica accepted, replayed to the second (replay cache in Redis) -> 401 invalid_dpop_proof', async () => {
  const response = await once(() => oauth.protectedResourceRequest(token, 'GET', groups, new Headers(), null, { ...opts, DPoP }))
  assert.equal(response.status, 200)
  assert.ok(sent.at(-1).url.startsWith(api))
  await replayed(`${replica}/v1/groups`, sent.at(-1).proof)
})

// JWT access tokens (RFC 9068): the binding is the token's own cnf claim,
// and the sms-api checks it locally (SMSAPI_JWT_LOCAL), without oauthd.
const jwtClient = { client_id: env('DPOP_JWT_ID') }
const jwtDPoP = oauth.DPoP(jwtClient, await oauth.generateKeyPair('ES256'))
let jwt

await check(LIB, 'JWT access token with DPoP() -> token_type DPoP, claim cnf.jkt = the key\'s thumbprint', async () => {
  const res = await once(async () => oauth.processClientCredentialsResponse(as, jwtClient,
    await oauth.clientCredentialsGrantRequest(as, jwtClient, oauth.ClientSecretBasic(env('DPOP_JWT_SECRET')), { scope: 'groups' }, { ...opts, DPoP: jwtDPoP })))
  assert.equal(res.token_type, 'dpop')
  jwt = res.access_token
  const payload = claims(jwt)
  assert.equal(payload.iss, issuer.href.replace(/\/$/, ''))
  assert.equal(payload.cnf?.jkt, await jwtDPoP.calculateThumbprint())
})

await check(LIB, 'JWT access token: protectedResourceRequest with its DPoP handle -> 200; as Bearer -> 401 invalid_token', async () => {
  const response = await once(() => oauth.protectedResourceRequest(jwt, 'GET', groups, new Headers(), null, { ...opts, DPoP: jwtDPoP }))
  assert.equal(response.status, 200)
  const err = await rejection(oauth.protectedResourceRequest(jwt, 'GET', groups, new Headers(), null, opts))
  assert.equal(challenge(err), 'invalid_token')
})

// Every algorithm oauthd advertises for proofs, as oauth4webapi signs with
// it: generateKeyPair('EdDSA') makes an Ed25519 key, whose proofs
// oauth4webapi 3.8 labels with the fully-specified alg "Ed25519" (RFC 9864)
// rather than the polymorphic "EdDSA".
for (const alg of as.dpop_signing_alg_values_supported.filter((a) => a !== 'ES256')) {
  await check(LIB, `a DPoP key for ${alg}: token and sms-api call`, async () => {
    const handle = oauth.DPoP(client, await oauth.generateKeyPair(alg))
    const res = await once(async () => oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'groups' }, { ...opts, DPoP: handle })))
    assert.equal(res.token_type, 'dpop')
    const signed = JSON.parse(Buffer.from(sent.at(-1).proof.split('.')[0], 'base64url')).alg
    assert.ok(as.dpop_signing_alg_values_supported.includes(signed), `the proof's alg ${signed} is advertised`)
    const response = await once(() => oauth.protectedResourceRequest(res.access_token, 'GET', groups, new Headers(), null, { ...opts, DPoP: handle }))
    assert.equal(response.status, 200)
  })
}

// refusedWithin calls GET /v1/groups (via opts: the first replica,
// toReplica: the second) with fresh proofs until the token is refused
// (401 invalid_token), for at most ms: the revocation reaches the sms-api
// through oauthd's revocation feed, which evicts its cached answer (or, for
// a JWT checked locally, marks it revoked).
async function refusedWithin(ms, accessToken, handle, via = opts) {
  const deadline = Date.now() + ms
  for (;;) {
    const response = await once(() => oauth.protectedResourceRequest(accessToken, 'GET', groups, new Headers(), null, { ...via, DPoP: handle }))
      .catch((err) => err)
    if (response instanceof Error) {
      assert.equal(challenge(response), 'invalid_token')
      return
    }
    assert.equal(response.status, 200)
    if (Date.now() > deadline) assert.fail(`still served ${ms} ms after the revocation`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

await check(LIB, 'revoked (RFC 7009): both sms-api replicas refuse the DPoP-bound token within 3 s (revocation feed)', async () => {
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token, opts))
  await refusedWithin(3000, token, DPoP)
  await refusedWithin(3000, token, DPoP, toReplica)
  assert.ok(sent.at(-1).url.startsWith(replica))
})

await check(LIB, 'revoked: the DPoP-bound JWT, checked locally, is refused within 3 s (revocation feed)', async () => {
  await oauth.processRevocationResponse(await oauth.revocationRequest(as, jwtClient, oauth.ClientSecretBasic(env('DPOP_JWT_SECRET')), jwt, opts))
  await refusedWithin(3000, jwt, jwtDPoP)
})

// FAPI 2.0 (profile fapi2): private_key_jwt with a DPoP-bound token is
// served; the same application without a proof (and no certificate), and a
// FAPI application authenticating with a secret, are refused.
const fapi = { client_id: env('DPOP_FAPI_ID') }
const pem = readFileSync(env('DPOP_FAPI_KEY'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, '')
const fapiKey = await crypto.subtle.importKey('pkcs8', Buffer.from(pem, 'base64'), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
const fapiDPoP = oauth.DPoP(fapi, await oauth.generateKeyPair('ES256'))

await check(LIB, 'FAPI 2.0 application: PrivateKeyJwt + DPoP() -> token_type DPoP, served by the sms-api', async () => {
  const res = await once(async () => oauth.processClientCredentialsResponse(as, fapi,
    await oauth.clientCredentialsGrantRequest(as, fapi, oauth.PrivateKeyJwt(fapiKey), { scope: 'groups' }, { ...opts, DPoP: fapiDPoP })))
  assert.equal(res.token_type, 'dpop')
  assert.equal(new URLSearchParams(String(sent.at(-1).body)).get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
  const response = await once(() => oauth.protectedResourceRequest(res.access_token, 'GET', groups, new Headers(), null, { ...opts, DPoP: fapiDPoP }))
  assert.equal(response.status, 200)
})

await check(LIB, 'FAPI 2.0 application asking for an unbound token (PrivateKeyJwt, no DPoP, no certificate) -> 400 invalid_request', async () => {
  const err = await rejection((async () => oauth.processClientCredentialsResponse(as, fapi,
    await oauth.clientCredentialsGrantRequest(as, fapi, oauth.PrivateKeyJwt(fapiKey), { scope: 'groups' }, opts)))())
  assert.ok(err instanceof oauth.ResponseBodyError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 400)
  assert.equal(err.error, 'invalid_request')
  assert.match(err.error_description, /sender-constrained/)
})

await check(LIB, 'FAPI 2.0 application authenticating with a secret (with DPoP) -> 401 invalid_client', async () => {
  const secretFapi = { client_id: env('DPOP_FAPI_SECRET_ID') }
  const DPoP = oauth.DPoP(secretFapi, await oauth.generateKeyPair('ES256')) // one handle: it keeps the nonce
  const err = await rejection(once(async () => oauth.processClientCredentialsResponse(as, secretFapi,
    await oauth.clientCredentialsGrantRequest(as, secretFapi, oauth.ClientSecretBasic(env('DPOP_FAPI_SECRET_SECRET')), {},
      { ...opts, DPoP }))))
  assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 401)
  const body = await err.response.json()
  assert.equal(body.error, 'invalid_client')
  assert.match(body.error_description, /FAPI 2\.0/)
})

done()
