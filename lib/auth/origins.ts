/**
 * Which browser origins may call the service (the ALLOWED_ORIGINS setting):
 * - `any` (`*`): every origin;
 * - `list`: exactly these origins (`scheme://host[:port]`, as browsers send them in `Origin`);
 * - `same-origin` (unset): only a page whose origin has the host the request was sent to.
 */
export type OriginPolicy =
  | { kind: 'any' }
  | { kind: 'list', origins: string[] }
  | { kind: 'same-origin' }

/** Reads the setting, or throws an Error naming the entry that is not an origin. */
export function originPolicy (setting: string | undefined): OriginPolicy {
  if (setting === undefined) return { kind: 'same-origin' }
  const entries = setting.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  if (entries.includes('*')) {
    if (entries.length > 1) throw new Error('"*" allows every origin and cannot be combined with a list')
    return { kind: 'any' }
  }
  if (entries.length === 0) throw new Error('give comma-separated origins like https://chat.example.com, or *')
  return { kind: 'list', origins: [...new Set(entries.map(normalizeOrigin))] }
}

/** "https://Chat.Example.com:443" -> "https://chat.example.com", the form browsers send. */
export function normalizeOrigin (entry: string): string {
  let url: URL
  try {
    url = new URL(entry)
  } catch {
    throw new Error(`"${entry}" is not an origin (scheme://host[:port])`)
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '' &&
    !entry.endsWith('/')
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !bare) {
    throw new Error(`"${entry}" is not an origin: write http(s)://host[:port], without path or trailing slash`)
  }
  return url.origin
}

/** Whether a request carrying this `Origin` header, sent to `host` (its Host header), may go on. */
export function isOriginAllowed (policy: OriginPolicy, origin: string, host: string | undefined): boolean {
  switch (policy.kind) {
    case 'any': return true
    case 'list': return policy.origins.includes(origin)
    case 'same-origin': return host !== undefined && isSameHost(origin, host)
  }
}

/** Compares hosts as the origin's scheme writes them: lower case, without its default port. */
function isSameHost (origin: string, host: string): boolean {
  try {
    const url = new URL(origin)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`${url.protocol}//${host}`).host
  } catch {
    return false
  }
}
