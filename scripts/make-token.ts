// Mints an HS256 token for trying the service out:
//   JWT_SECRET=... npm run token -- <user id> [group ...]
import { createSigner } from 'fast-jwt'

const [id, ...groups] = process.argv.slice(2)
const secret = process.env.JWT_SECRET
if (id === undefined || !secret) {
  console.error('usage: JWT_SECRET=<secret> npm run token -- <user id> [group ...]')
  process.exit(2)
}
console.log(createSigner({ key: secret, algorithm: 'HS256', expiresIn: 24 * 3600 * 1000 })({ id, groups }))
