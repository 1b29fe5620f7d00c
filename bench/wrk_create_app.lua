-- wrk_create_app.lua: POST {"name": "<unique>"} with an X-Auth-Token, one new app name per request.
--   wrk -t1 -c32 -d10s -s bench/wrk_create_app.lua http://HOST/v2/P/instances/I/apps -- TOKEN TAG
-- Names are TAG_<thread>_<counter>: TAG (letters/digits, unique per run) keeps runs from colliding.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
local headers = {}
local prefix = "bench"

function init(args)
  headers["X-Auth-Token"] = args[1]
  headers["Content-Type"] = "application/json"
  prefix = (args[2] or "bench") .. "_" .. tostring(tid or 0)
end

function request()
  counter = counter + 1
  return wrk.format("POST", nil, headers, '{"name":"' .. prefix .. "_" .. counter .. '"}')
end
