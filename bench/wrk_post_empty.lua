-- wrk_post_empty.lua: POST without a body, with an X-Auth-Token (e.g. .../datasources/{id}/test-connect,
-- which then tests the stored configuration).
--   wrk -t1 -c16 -d10s -s bench/wrk_post_empty.lua http://HOST/path -- TOKEN
function init(args)
  wrk.method = "POST"
  wrk.headers["X-Auth-Token"] = args[1]
end
