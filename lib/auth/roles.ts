/**
 * The roles at a claim path of a token's payload: a name, or a dotted path into nested claims
 * ("realm_access.roles", where Keycloak puts a realm's roles). None unless it is an array; only
 * its strings count.
 */
export function rolesAt (payload: object, path: string): string[] | undefined {
  let value: unknown = payload
  for (const name of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, name)) return undefined
    value = (value as Record<string, unknown>)[name]
  }
  return Array.isArray(value) ? value.filter((role): role is string => typeof role === 'string') : undefined
}
