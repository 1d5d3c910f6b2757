-- fixed.lua sends the same request over and over. It defines no request()
-- function, so wrk builds the request once, after init(), and Lua stays off
-- the request path.
--
-- Arguments after wrk's "--": the method, the body ("" for none), then
-- any number of headers, each "Name: value".

function init(args)
  wrk.method = args[1]
  if args[2] ~= nil and args[2] ~= "" then
    wrk.body = args[2]
  end
  for i = 3, #args do
    local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end
