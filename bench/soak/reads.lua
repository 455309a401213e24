-- wrk script: half GET /api/v1/jobs/{id} (ids from the file given after --), half listings.
local ids = {}
local n = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + #tostring({}))
end

function request()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("GET", "/api/v1/jobs?limit=20")
  end
  return wrk.format("GET", "/api/v1/jobs/" .. ids[math.random(#ids)])
end
