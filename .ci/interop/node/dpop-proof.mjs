// A DPoP proof made by oauth4webapi, for curl (../dpop.sh): curl presents
// the client certificate, this script signs the proof.
//
//   node dpop-proof.mjs KEY.json METHOD URL [ACCESS_TOKEN]
//   node dpop-proof.mjs KEY.json jkt
//
// KEY.json holds an ES256 key pair as two JWKs; it is made on first use.
// Prints the proof (or the key's RFC 7638 thumbprint).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import * as oauth from 'oauth4webapi'

const [file, method, url, token] = process.argv.slice(2)
if (!file || !method) {
  console.error('usage: node dpop-proof.mjs KEY.json METHOD URL [ACCESS_TOKEN] | KEY.json jkt')
  process.exit(2)
}
const alg = { name: 'ECDSA', namedCurve: 'P-256' }
let keyPair
if (existsSync(file)) {
  const { privateKey, publicKey } = JSON.parse(readFileSync(file, 'utf8'))
  keyPair = {
    privateKey: await crypto.subtle.importKey('jwk', privateKey, alg, false, ['sign']),
    publicKey: await crypto.subtle.importKey('jwk', publicKey, alg, true, ['verify']),
  }
} else {
  keyPair = await oauth.generateKeyPair('ES256', { extractable: true })
  writeFileSync(file, JSON.stringify({
    privateKey: await crypto.subtle.exportKey('jwk', keyPair.privateKey),
    publicKey: await crypto.subtle.exportKey('jwk', keyPair.publicKey),
  }), { mode: 0o600 })
}
const handle = oauth.DPoP({ client_id: 'curl' }, keyPair)
if (method === 'jkt') {
  console.log(await handle.calculateThumbprint())
} else {
  const headers = new Headers()
  await handle.addProof(new URL(url), headers, method, token)
  console.log(headers.get('dpop'))
}
