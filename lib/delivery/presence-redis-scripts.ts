// The Lua scripts of RedisPresence. A channel's presence keys share the channel's hash tag, and
// the instance keys share one of their own, so that each script's keys are in one cluster slot.
// A script publishes its join or leave itself, on the signals channel: Redis runs scripts one at
// a time, so every instance hears a user's joins and leaves in the order they happened.

/**
 * The instance holds the user in the channel. The first instance to hold them makes them present.
 * KEYS: users (sorted set, score 0), instances per user (hash), holders (hash "instance\nuser" -> 1).
 * ARGV: holder field, user, signals channel, join signal payload.
 * Returns 1 when the user became present.
 */
export const HOLD_SCRIPT = `
if redis.call('HSETNX', KEYS[3], ARGV[1], '1') == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) ~= 1 then return 0 end
redis.call('ZADD', KEYS[1], 0, ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`

/**
 * The instance no longer holds the user in the channel. The last instance to let go makes them leave.
 * KEYS and ARGV as HOLD_SCRIPT's, with the leave signal payload.
 * Returns 1 when the user left.
 */
export const RELEASE_SCRIPT = `
if redis.call('HDEL', KEYS[3], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`

/**
 * Claims the reaping of an instance whose heartbeat expired, for a lease: no other survivor reaps
 * it meanwhile, and if this one dies before it is done, another takes over when the lease ends.
 * KEYS: instances (sorted set scored by heartbeat expiry). ARGV: instance, now, lease end.
 * Returns 1 when claimed.
 */
export const CLAIM_SCRIPT = `
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`

/**
 * Forgets a reaped instance once nothing it held is left (an instance that was only slow, not
 * dead, may have held new things meanwhile: it stays listed, and its heartbeat takes over again).
 * KEYS: instances, the instance's held set. ARGV: instance.
 */
export const FORGET_SCRIPT = `
if redis.call('SCARD', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`
