-- `@handle` in a read path: the live user of that handle (any case), or no row (404).
-- $1 handle, lower-cased. Index: users_handle_live_key.
SELECT id::text AS id FROM users WHERE lower(handle) = $1 AND deleted_at IS NULL
