-- The Change role dialog's POST, as htmx sends it, alternating each member
-- between Developer and Contributor. BENCH_MEMBERS lists user ids, comma
-- separated; BENCH_CSRF is the session's token.
dofile("bench/report.lua")

local cookie = os.getenv("BENCH_COOKIE")
local org = os.getenv("BENCH_ORG")
local token = os.getenv("BENCH_CSRF")
local members = {}
for id in string.gmatch(os.getenv("BENCH_MEMBERS"), "[^,]+") do
  members[#members + 1] = id
end
local roles = { "developer", "contributor" }
local sent = 0

request = function()
  sent = sent + 1
  local member = members[(sent % #members) + 1]
  local role = roles[(math.floor(sent / #members) % 2) + 1]
  return wrk.format("POST", "/orgs/" .. org .. "/members/" .. member .. "/role", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["HX-Request"] = "true",
    ["X-CSRF-Token"] = token,
    ["Cookie"] = cookie,
  }, "role=" .. role)
end
