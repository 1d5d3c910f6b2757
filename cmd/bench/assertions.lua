-- assertions.lua asks for tokens with private_key_jwt: each request
-- carries a client assertion of its own, taken from a file the harness
-- wrote just before the run (one form body a line, each with a fresh jti),
-- since oauthd accepts each assertion once. Thread i of n takes the lines
-- i, i+n, i+2n, ..., so no two threads send the same one; the requests are
-- built once, in init(). A run that asks for more than the file holds
-- starts over, and oauthd refuses the replays: they show as non-2xx
-- answers, and the harness flags the run.
--
-- Arguments after wrk's "--": the bodies file, the number of wrk threads.

local requests = {}
local next_index = 0

function init(args)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  local threads = tonumber(args[2]) or 1
  local me = thread_id or 0
  local i = 0
  for body in io.lines(args[1]) do
    if body ~= "" then
      if i % threads == me then
        requests[#requests + 1] = wrk.format("POST", nil, headers, body)
      end
      i = i + 1
    end
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
