-- The platform's gateway asking about tokens: POST /api/v1/tokens/introspect
-- as the introspection client BENCH_CLIENT, about every token of
-- BENCH_TOKENS_FILE (one secret a line) in a random order per thread; with
-- BENCH_AUTHORIZE set, POST /api/v1/authorize instead, asking in turn whether
-- the token may use the platform, create on it, and create on someone
-- else's resource; with BENCH_GATEWAY set, the gateway's check as a proxy
-- asks it about a call of a deployment's endpoint; with BENCH_PROXIED set,
-- that call itself, sent to the proxy in front. The requests are written before the run starts, so that
-- wrk, which shares the machine, spends no more per request than on the
-- health route.
dofile("bench/report.lua")

local client = os.getenv("BENCH_CLIENT")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end

local requests = {}
local sent = 0

setup = function(thread)
  thread:set("seed", math.random(1, 1000000))
end

init = function()
  math.randomseed(seed)
  local order = {}
  for i = 1, #tokens do
    order[i] = tokens[i]
  end
  for i = #order, 2, -1 do
    local j = math.random(1, i)
    order[i], order[j] = order[j], order[i]
  end
  local questions = {
    '"permission":"platform.use"}',
    '"permission":"platform.create"}',
    '"permission":"platform.create","resource_owner":"someone-else"}',
  }
  for i = 1, #order do
    if os.getenv("BENCH_GATEWAY") then
      requests[i] = wrk.format("GET", "/gateway/check", {
        ["Authorization"] = "Bearer " .. order[i],
        ["X-Rollcall-Client"] = client,
        ["X-Original-Method"] = "POST",
        ["X-Original-URI"] = "/v1/deployments/d" .. (i % 100) .. "/infer",
      })
    elseif os.getenv("BENCH_PROXIED") then
      requests[i] = wrk.format("POST", "/v1/deployments/d" .. (i % 100) .. "/infer", {
        ["Authorization"] = "Bearer " .. order[i],
      })
    elseif os.getenv("BENCH_AUTHORIZE") then
      requests[i] = wrk.format("POST", "/api/v1/authorize", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. client,
      }, '{"token":"' .. order[i] .. '",' .. questions[(i % #questions) + 1])
    else
      requests[i] = wrk.format("POST", "/api/v1/tokens/introspect", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Authorization"] = "Bearer " .. client,
      }, "token=" .. order[i])
    end
  end
end

request = function()
  sent = sent + 1
  return requests[(sent % #requests) + 1]
end
