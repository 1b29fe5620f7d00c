-- wrk_get.lua: GET with an X-Auth-Token header.
--   wrk -t1 -c32 -d10s -s bench/wrk_get.lua http://HOST/path -- TOKEN
function init(args)
  wrk.headers["X-Auth-Token"] = args[1]
end
