import { isValidChannelId } from './channel.js'
import { InvalidCountsRequest } from './errors.js'

export const MAX_COUNTED_CHANNELS = 1000

/**
 * The channels a counts request asks about: the seed's JSON body {"channels": [...]},
 * a `channels=a,b` query parameter, or both.
 */
export function requestedChannels (query: string | undefined, body: Buffer): string[] {
  const channels = new Set([...channelsOfQuery(query), ...channelsOfBody(body)])
  if (channels.size === 0) {
    throw new InvalidCountsRequest('give channels as ?channels=a,b or as a JSON body {"channels":["a","b"]}')
  }
  if (channels.size > MAX_COUNTED_CHANNELS) {
    throw new InvalidCountsRequest(`at most ${MAX_COUNTED_CHANNELS} channels per request`)
  }
  for (const channel of channels) {
    if (!isValidChannelId(channel)) throw new InvalidCountsRequest(`"${channel.slice(0, 140)}" is not a valid channel id`)
  }
  return [...channels]
}

function channelsOfQuery (query: string | undefined): string[] {
  return query === undefined ? [] : query.split(',').filter((channel) => channel !== '')
}

function channelsOfBody (body: Buffer): string[] {
  if (body.length === 0) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw new InvalidCountsRequest('body is not valid JSON')
  }
  const channels: unknown = (parsed as { channels?: unknown } | null)?.channels
  if (!Array.isArray(channels) || !channels.every((channel) => typeof channel === 'string')) {
    throw new InvalidCountsRequest('body must be {"channels": [strings]}')
  }
  return channels as string[]
}
