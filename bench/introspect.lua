-- The platform's gateway asking about tokens: POST /api/v1/tokens/introspect
-- with a token picked at random from BENCH_TOKENS_FILE (one secret a line),
-- as the introspection client BENCH_CLIENT.
dofile("bench/report.lua")

local client = os.getenv("BENCH_CLIENT")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end

setup = function(thread)
  thread:set("seed", math.random(1, 1000000))
end

init = function()
  math.randomseed(seed)
end

request = function()
  local token = tokens[math.random(1, #tokens)]
  return wrk.format("POST", "/api/v1/tokens/introspect", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Bearer " .. client,
  }, "token=" .. token)
end
