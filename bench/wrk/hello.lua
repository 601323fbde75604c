-- GET the bare Flask app's hello page (a static request; common.lua counts the statuses).
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "common.lua")
