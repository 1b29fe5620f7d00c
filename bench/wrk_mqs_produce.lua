-- wrk_mqs_produce.lua: MQS data-plane produce, one batch of N messages of SIZE bytes per request, with
-- the app's key/secret as HTTP Basic credentials.
--   wrk -t1 -c16 -d10s -s bench/wrk_mqs_produce.lua http://HOST/v1/topic/T/messages -- BASIC_B64 N SIZE
local headers = {}
local body = ""

function init(args)
  headers["Authorization"] = "Basic " .. args[1]
  headers["Content-Type"] = "application/json"
  local n = tonumber(args[2] or "10")
  local pad = string.rep("x", tonumber(args[3] or "1024") - 2) -- content "xxx...": SIZE bytes of JSON text
  local items = {}
  for i = 1, n do
    items[i] = '{"content":"' .. pad .. '","id":"m' .. i .. '"}'
  end
  body = '{"messages":[' .. table.concat(items, ",") .. "]}"
end

function request()
  return wrk.format("POST", nil, headers, body)
end
