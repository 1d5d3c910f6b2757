-- dpop.lua sends requests that each carry a DPoP proof (RFC 9449) of their
-- own, taken from a file the harness wrote just before the run (one proof
-- a line), since the server accepts each proof once: oauthd's token
-- endpoint, or sms-api's route with a DPoP-bound token. Thread i of n takes
-- the lines i, i+n, i+2n, ..., so no two threads send the same proof; the
-- requests are built once, in init(). wrk calls thread 0's request() once
-- before the run and drops what it returns (it counts the requests a call
-- pipelines), so that thread's first proof waits for the second time
-- round. A run that sends more than the file holds starts over, and the
-- server refuses the replays: they show as non-2xx answers, and the
-- harness flags the run.
--
-- Arguments after wrk's "--": the proofs file, the number of wrk threads,
-- the method, the body ("" for none), then any number of headers, each
-- "Name: value", as fixed.lua takes them.

local requests = {}
local next_index = 0

function init(args)
  local threads = tonumber(args[2]) or 1
  local me = thread_id or 0
  local method = args[3]
  local body = nil
  if args[4] ~= nil and args[4] ~= "" then
    body = args[4]
  end
  local fixed = {}
  for i = 5, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    fixed[name] = value
  end
  local i = 0
  for proof in io.lines(args[1]) do
    if proof ~= "" then
      if i % threads == me then
        -- A table per request: wrk.format adds Host and Content-Length
        -- to the one it is given.
        local headers = { ["DPoP"] = proof }
        for name, value in pairs(fixed) do
          headers[name] = value
        end
        requests[#requests + 1] = wrk.format(method, nil, headers, body)
      end
      i = i + 1
    end
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
