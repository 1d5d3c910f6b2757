// Reporting shared by the Node.js interop scripts: one PASS or FAIL line per
// check, and a non-zero exit code if any check failed. The checks themselves
// (what each library is asked and what it must answer) live in the scripts.

let failed = 0

// check runs one named check and reports whether it passed. fn throws
// (assert, or the library itself) to fail it; a failed check does not stop
// the checks after it.
export async function check(lib, name, fn) {
  try {
    await fn()
    console.log(`PASS ${lib}: ${name}`)
    return true
  } catch (err) {
    failed++
    const detail = err?.stack ?? String(err)
    console.log(`FAIL ${lib}: ${name}: ${detail.split('\n').slice(0, 4).join(' | ')}`)
    return false
  }
}

// rejection awaits a promise that must be rejected and returns its reason.
export async function rejection(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('the call succeeded but an error answer was expected')
}

// env reads a variable the run script sets, or stops at once.
export function env(name) {
  const v = process.env[name]
  if (!v) {
    console.log(`FAIL setup: ${name} is not set (run these scripts through .ci/interop/run)`)
    process.exit(1)
  }
  return v
}

export function done() {
  process.exitCode = failed ? 1 : 0
}

// stop ends the script after a failure that leaves nothing else to check.
export function stop(why) {
  console.log(`NOTE ${why}: the remaining checks were not run`)
  process.exit(1)
}

// recorder wraps fetch (or another fetch, such as one presenting a client
// certificate) and keeps the last request it sent, so a check can confirm
// which client authentication method the library really used.
export function recorder(base = fetch) {
  const rec = {
    last: null,
    fetch: async (url, options) => {
      rec.last = {
        url: String(url),
        authorization: new Headers(options?.headers).get('authorization'),
        body: new URLSearchParams(String(options?.body ?? '')),
      }
      return base(url, options)
    },
  }
  return rec
}
