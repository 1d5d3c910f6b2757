// The credentials of the issue-18 checks, made by ../run with openssl in
// $INTEROP_PKI: private keys for private_key_jwt as WebCrypto keys (what
// openid-client and oauth4webapi sign with), and a fetch that presents a
// client certificate for tls_client_auth and self_signed_tls_client_auth.
import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent, fetch as undiciFetch } from 'undici'
import { env } from './report.mjs'

const pki = env('INTEROP_PKI')

// The WebCrypto algorithm of each kind of key ../run makes.
const algorithms = {
  ec: { name: 'ECDSA', namedCurve: 'P-256' },
  ed25519: { name: 'Ed25519' },
}

// privateKey imports $INTEROP_PKI/NAME.key (PKCS #8 PEM) as a non-extractable
// signing CryptoKey: the libraries accept nothing else.
export async function privateKey(name) {
  const keyObject = createPrivateKey(readFileSync(`${pki}/${name}.key`))
  const der = keyObject.export({ type: 'pkcs8', format: 'der' })
  return crypto.subtle.importKey('pkcs8', der, algorithms[keyObject.asymmetricKeyType], false, ['sign'])
}

// certificateFetch is a fetch presenting the client certificate
// $INTEROP_PKI/NAME.pem. Node's global fetch cannot be given one, so this is
// undici's own fetch with an Agent whose TLS connections carry the
// certificate; the server's certificate is checked against the system's CAs
// plus NODE_EXTRA_CA_CERTS (the test CA, set by ../run), as for global fetch.
export function certificateFetch(name) {
  const dispatcher = new Agent({
    connect: { cert: readFileSync(`${pki}/${name}.pem`), key: readFileSync(`${pki}/${name}.key`) },
  })
  return (url, options) => undiciFetch(url, { ...options, dispatcher })
}

// decodeJwt returns the header and payload of a compact JWS, unverified: the
// checks look at what a library put in its assertions.
export function decodeJwt(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')))
  return { header, payload }
}
