-- The front door's own files: the per-model OpenAPI documents, the Open Inference Protocol
-- metadata, the page to try each model and Swagger UI's assets (docs/protocols.md).
--
-- server/door.py writes <state dir>/files/MANIFEST, one line per file: the URL path, the
-- file's path and its media type, tab-separated. Every file is read once, here, at start, and
-- answered from memory by exact path: no request names a file on disk. HAProxy's
-- `http-request return ... file` would cap a file at tune.bufsize (32 KiB); Swagger UI's
-- bundle is 1.4 MiB, and a Lua service streams any size.

local files = {}
local manifest = os.getenv("DOOR_STATE_DIR") .. "/files/MANIFEST"
for line in io.lines(manifest) do
    local path, file, media = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)$")
    if path then
        local handle = assert(io.open(file, "rb"))
        files[path] = { body = handle:read("a"), media = media }
        handle:close()
    end
end

local function not_found(path)
    if path:sub(1, 4) == "/v2/" then  -- the protocol's error shape
        return '{"error": "no such model"}'
    end
    return '{"code": 404, "type": "NotFound", "message": "no such file"}'
end

core.register_service("door_files", "http", function(applet)
    local file = files[applet.path]
    local body, media, status = nil, "application/json", 200
    if file then
        body, media = file.body, file.media
    else
        body, status = not_found(applet.path), 404
    end
    applet:set_status(status)
    applet:add_header("content-type", media)
    applet:add_header("content-length", tostring(#body))
    applet:add_header("cache-control", "no-cache")
    applet:start_response()
    if applet.method ~= "HEAD" then
        applet:send(body)
    end
end)
