// openid-client (v6) DPoP (RFC 9449) against a live oauthd and the example
// sms-api, both over HTTPS under the suite's test CA (NODE_EXTRA_CA_CERTS):
// getDPoPHandle, a client-credentials grant answered token_type DPoP, and
// protected calls with fetchProtectedResource, introspection showing the
// binding, and the token refused as Bearer. With DPOP_NONCE=nonce,
// oauthd and the sms-api ask for nonces and openid-client repeats the
// request itself: nothing here handles use_dpop_nonce.
// Run by ../dpop.sh, which sets the variables read below.
import assert from 'node:assert/strict'
import * as client from 'openid-client'
import { check, env, done, stop } from './report.mjs'

const mode = env('DPOP_NONCE')
const nonces = mode === 'nonce'
const LIB = `openid-client DPoP (${mode})`
const issuer = env('DPOP_ISSUER')
const api = env('DPOP_API')

// sent records each request's proof and answer status.
const sent = []
const record = async (url, options) => {
  const headers = new Headers(options?.headers)
  const response = await fetch(url, options)
  sent.push({ url: String(url), proof: headers.get('dpop'), authorization: headers.get('authorization'), status: response.status })
  return response
}
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'))

let config
const discovered = await check(LIB, 'discovery over https (no allowInsecureRequests)', async () => {
  config = await client.discovery(new URL(issuer), env('DPOP_CLIENT_ID'), env('DPOP_CLIENT_SECRET'),
    client.ClientSecretBasic(), { algorithm: 'oauth2', [client.customFetch]: record })
  assert.equal(config.serverMetadata().issuer, issuer)
  assert.ok(config.serverMetadata().dpop_signing_alg_values_supported?.includes('ES256'))
})
if (!discovered) stop(`${LIB}: discovery failed`)

const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair())
let token

const granted = await check(LIB, 'clientCredentialsGrant with getDPoPHandle -> token_type DPoP' + (nonces ? ' (use_dpop_nonce followed by the library)' : ''), async () => {
  const from = sent.length
  const res = await client.clientCredentialsGrant(config, { scope: 'sms groups' }, { DPoP })
  assert.equal(res.token_type, 'dpop') // lower-cased, as for bearer
  assert.equal(res.scope, 'sms groups')
  const tries = sent.slice(from)
  assert.ok(tries.every((t) => t.proof), 'every token request carries a proof')
  assert.deepEqual(tries.map((t) => t.status), nonces ? [400, 200] : [200])
  if (nonces) assert.equal(typeof claims(tries[1].proof).nonce, 'string')
  token = res.access_token
})
if (!granted) stop(`${LIB}: no DPoP-bound token`)

await check(LIB, 'fetchProtectedResource GET /v1/groups with the handle -> 200' + (nonces ? ' (use_dpop_nonce followed by the library)' : ''), async () => {
  const from = sent.length
  const response = await client.fetchProtectedResource(config, token, new URL(`${api}/v1/groups`), 'GET', undefined, undefined, { DPoP })
  assert.equal(response.status, 200)
  assert.equal((await response.json()).groups.length, 2)
  const tries = sent.slice(from)
  assert.match(tries.at(-1).authorization, /^DPoP /)
  assert.deepEqual(tries.map((t) => t.status), nonces ? [401, 200] : [200])
})

await check(LIB, 'fetchProtectedResource POST /v1/sms with the handle -> 201', async () => {
  const response = await client.fetchProtectedResource(config, token, new URL(`${api}/v1/sms`), 'POST',
    JSON.stringify({ to: ['+447700900123'], text: 'bound' }), new Headers({ 'content-type': 'application/json' }), { DPoP })
  assert.equal(response.status, 201)
  assert.equal((await response.json()).text, 'bound')
})

await check(LIB, 'tokenIntrospection (as the sms-api\'s application): cnf.jkt is the handle\'s thumbprint', async () => {
  const rs = await client.discovery(new URL(issuer), env('DPOP_RS_ID'), env('DPOP_RS_SECRET'), client.ClientSecretBasic(), { algorithm: 'oauth2' })
  const info = await client.tokenIntrospection(rs, token)
  assert.equal(info.active, true)
  assert.equal(info.token_type, 'DPoP')
  assert.equal(info.cnf?.jkt, await DPoP.calculateThumbprint())
})

await check(LIB, 'fetchProtectedResource with the same token and no handle (Bearer) -> 401 invalid_token', async () => {
  const err = await client.fetchProtectedResource(config, token, new URL(`${api}/v1/groups`), 'GET').then(() => null, (e) => e)
  assert.ok(err instanceof client.WWWAuthenticateChallengeError, `got ${err?.name}: ${err?.message}`)
  assert.equal(err.status, 401)
  assert.match(sent.at(-1).authorization, /^Bearer /)
  assert.equal(err.cause.find((c) => c.parameters.error)?.parameters.error, 'invalid_token')
})

done()
