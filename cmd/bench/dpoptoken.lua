-- dpoptoken.lua asks for DPoP-bound tokens: each request carries a DPoP
-- proof of its own, taken from a file the harness wrote just before the
-- run (one proof a line), since oauthd accepts each proof once. Thread i
-- of n takes the lines i, i+n, ...; the requests are built once, in
-- init(). A run that asks for more than the file holds starts over, and
-- oauthd refuses the replays: they show as non-2xx answers.
--
-- Arguments after wrk's "--": the proofs file, the number of wrk
-- threads, the Authorization header's value.

local requests = {}
local next_index = 0

function init(args)
  local threads = tonumber(args[2]) or 1
  local me = thread_id or 0
  local i = 0
  for proof in io.lines(args[1]) do
    if proof ~= "" then
      if i % threads == me then
        local headers = {
          ["Content-Type"] = "application/x-www-form-urlencoded",
          ["Authorization"] = args[3],
          ["DPoP"] = proof,
        }
        requests[#requests + 1] = wrk.format("POST", nil, headers, "grant_type=client_credentials")
      end
      i = i + 1
    end
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
