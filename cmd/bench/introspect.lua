-- introspect.lua posts "token=<t>" to the introspection endpoint, taking t
-- in turn from a file of live tokens, one a line, so oauthd looks up a
-- different token each time as it would in production. The requests are
-- built once, in init(); request() only picks the next.
--
-- Arguments after wrk's "--": the token file, then any number of headers,
-- each "Name: value" (the caller's Basic credentials).

local requests = {}
local next_index = 0

function init(args)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for i = 2, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  for token in io.lines(args[1]) do
    if token ~= "" then
      requests[#requests + 1] = wrk.format("POST", nil, headers, "token=" .. token)
    end
  end
  -- Threads start at different places (report.lua's setup() numbers them)
  -- so they do not ask for the same tokens in step.
  next_index = ((thread_id or 0) * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
