-- wrk_mqs_consume.lua: MQS data-plane consumers that acknowledge what they receive, as a real consumer
-- does: each request is either an ack (POST, when handlers are waiting) or a consume (GET max_msgs=10).
-- Counts the messages received and acknowledged; done() prints "CONSUMED <n> ACKED <n>".
--   wrk -t1 -c16 -d10s -s bench/wrk_mqs_consume.lua http://HOST/v1/topic/T/group/G/messages -- BASIC_B64
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local headers = {}
local get_path = ""
local pending = {}
local consumed = 0
local acked = 0

function init(args)
  headers["Authorization"] = "Basic " .. args[1]
  headers["Content-Type"] = "application/json"
  get_path = wrk.path .. "?max_msgs=10&time_wait=1&ack_wait=300"
end

function request()
  if #pending > 0 then
    local items = {}
    local k = math.min(10, #pending)
    for i = 1, k do
      items[i] = '{"handler":"' .. table.remove(pending) .. '","status":"success"}'
    end
    return wrk.format("POST", nil, headers, '{"messages":[' .. table.concat(items, ",") .. "]}")
  end
  return wrk.format("GET", get_path, headers, nil)
end

function response(status, hdrs, body)
  if status ~= 200 then return end
  for h in string.gmatch(body, '"handler":"([^"]+)"') do
    pending[#pending + 1] = h
    consumed = consumed + 1
  end
  local s = string.match(body, '"success":(%d+)')
  if s then acked = acked + tonumber(s) end
  wrk.thread:set("consumed", consumed)
  wrk.thread:set("acked", acked)
end

function done(summary, latency, requests)
  local c, a = 0, 0
  for _, t in ipairs(threads) do
    c = c + (t:get("consumed") or 0)
    a = a + (t:get("acked") or 0)
  end
  io.write(string.format("CONSUMED %d ACKED %d\n", c, a))
end
