/**
 * The URL with the value of every query parameter whose name contains "token" (in any case)
 * replaced, so that logs never hold one. Names are compared percent-decoded, as the router reads
 * them: `?%61ccess_token=` is the same parameter as `?access_token=`.
 */
export function redactTokens (url: string): string {
  const start = url.indexOf('?')
  if (start === -1) return url
  const pairs = url.slice(start + 1).split('&').map((pair) => {
    const end = pair.indexOf('=')
    const name = end === -1 ? pair : pair.slice(0, end)
    return /token/i.test(decodeName(name)) ? `${name}=[redacted]` : pair
  })
  return `${url.slice(0, start + 1)}${pairs.join('&')}`
}

/** Decodes what a router would, without failing on malformed escapes (which it may keep as they are). */
function decodeName (name: string): string {
  return name.replace(/\+/g, ' ').replace(/%([0-9a-f]{2})/gi, (_escape, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}
