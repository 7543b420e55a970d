-- wrk script: each request is the next line of a file of pre-built requests, so every POST
-- answers another invitation. Line: METHOD<TAB>path<TAB>headers ("Name: value" joined by "|")<TAB>body
-- Arguments after `--`: the file, the line to start at, the number of threads.
-- Thread k sends lines start+k, start+k+threads, ...; done() prints where the next run starts.
local threads, created = {}, 0

function setup(thread)
  thread:set("id", created)
  created = created + 1
  table.insert(threads, thread)
end

function init(args)
  local start, step = tonumber(args[2]), tonumber(args[3])
  requests = {}
  for line in io.lines(args[1]) do
    local method, path, header_text, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    for name, value in header_text:gmatch("([^|:]+): ([^|]*)") do
      headers[name] = value
    end
    table.insert(requests, wrk.format(method, path, headers, body ~= "" and body or nil))
  end
  position, stride = start + id, step
end

function request()
  local r = requests[(position % #requests) + 1]
  position = position + stride
  return r
end

function done(summary, latency, requests)
  local last = 0
  for _, thread in ipairs(threads) do
    last = math.max(last, thread:get("position"))
  end
  io.write(string.format("next-start %d\n", last))
end
