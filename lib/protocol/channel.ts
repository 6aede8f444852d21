// Channel ids are user ids or group ids. They are matched by exact string
// equality; this pattern only keeps out ids that look like query operators
// ("$where"), paths ("../x", "a/b") or control characters. 100 characters at most, which is
// also Fastify's default maxParamLength (a longer path parameter is answered 414).
export const CHANNEL_ID_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.:@+=|-]{0,99}$'

const channelIdRegExp = new RegExp(CHANNEL_ID_PATTERN)

export function isValidChannelId (value: string): boolean {
  return channelIdRegExp.test(value)
}
