import { rolesAt } from './roles.js'

/** The claims the service reads from a verified JWT. */
export interface Claims {
  id: string
  groups: string[]
  /** Seconds since the epoch when the token expires; a token without it never does. */
  exp?: number
  /** The roles at JWT_ROLES_CLAIM, when the token has that claim as an array. */
  roles?: string[]
}

/** Decides whether a user may read and write a channel. Replaceable by the `authorize` plugin option. */
export type Authorize = (claims: Claims, channel: string) => boolean | Promise<boolean>

/** The seed's rule: exact string equality with the user's id or one of their groups. */
export function canAccessChannel (claims: Claims, channel: string): boolean {
  return claims.id === channel || claims.groups.includes(channel)
}

/** Which messages of a channel a user may read: all of them with access, otherwise their own. */
export function historyScope (claims: Claims, channel: string, hasAccess: boolean): { channel: string, sender?: string } {
  return hasAccess ? { channel } : { channel, sender: claims.id }
}

/** Whether the token's roles hold the moderator role (JWT_MODERATOR_ROLE). */
export function isModerator (claims: Claims, moderatorRole: string): boolean {
  return claims.roles?.includes(moderatorRole) === true
}

/** Narrows a decoded JWT payload to Claims, or explains why it cannot; roles come from the claim at `rolesClaim` (see rolesAt). */
export function readClaims (payload: unknown, rolesClaim = 'roles'): Claims | string {
  if (typeof payload !== 'object' || payload === null) return 'payload is not an object'
  const { id, groups, exp } = payload as Record<string, unknown>
  if (typeof id !== 'string' || id.length === 0) return 'claim "id" must be a non-empty string'
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === 'string')) {
    return 'claim "groups" must be an array of strings'
  }
  const claims: Claims = typeof exp === 'number' ? { id, groups, exp } : { id, groups }
  const roles = rolesAt(payload, rolesClaim)
  if (roles !== undefined) claims.roles = roles
  return claims
}

/** The claims of an authenticated request; a route that calls this without chatAuthenticate is a bug. */
export function claimsOf (request: { chatClaims: Claims | null }): Claims {
  if (request.chatClaims === null) throw new Error('chatAuthenticate must run before this handler')
  return request.chatClaims
}
