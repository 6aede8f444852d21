import type { MongoClient } from 'mongodb'

/**
 * Connects a MongoClient on first use and again after a failed first connect. The driver
 * reconnects by itself once it has connected, but an implicit first connect that fails
 * leaves the client closed for good ("Topology is closed"), so a service that started
 * while its database was down would never write.
 */
export function connectOnDemand (client: MongoClient): () => Promise<void> {
  let connecting: Promise<unknown> | undefined
  return async () => {
    connecting ??= client.connect().catch((error: unknown) => {
      connecting = undefined
      throw error
    })
    await connecting
  }
}
