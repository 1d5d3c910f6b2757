-- tokens.lua asks for client-credentials tokens as applications picked
-- at random (uniformly) from a file of their Basic credentials, one
-- Authorization value a line, so oauthd meets many applications as it
-- would in production. The requests are built once, in init(); request()
-- only picks one.
--
-- Arguments after wrk's "--": the credentials file.

local requests = {}

function init(args)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for auth in io.lines(args[1]) do
    if auth ~= "" then
      headers["Authorization"] = auth
      requests[#requests + 1] = wrk.format("POST", nil, headers, "grant_type=client_credentials")
    end
  end
  -- Each thread its own sequence (report.lua's setup() numbers them).
  math.randomseed(os.time() + (thread_id or 0) * 7919)
end

function request()
  return requests[math.random(#requests)]
end
