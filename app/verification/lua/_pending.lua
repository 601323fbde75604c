-- Shared by the scripts that act on a pending verification.
-- A verification is pending while it has a first handle (r) and no status (s): s is set when it
-- ends ('p' in hashes written before).
local function pending(status, rand)
  return rand and (status or 'p') == 'p'
end

