// Decorates `chatDeadLetter`: the file where messages go that could not be stored. Its location
// is checked at start (created, test-written, within a few seconds), so an unusable one stops
// the start instead of being found at shutdown, when the messages it should take are lost.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { DeadLetterFile } from '../lib/storage/dead-letter.js'
import { envName } from '../lib/config/settings.js'

declare module 'fastify' {
  interface FastifyInstance {
    chatDeadLetter: DeadLetterFile
  }
}

async function deadLetter (app: FastifyInstance): Promise<void> {
  const file = new DeadLetterFile(app.chatSettings.deadLetterFile)
  app.log.debug({ file: file.path }, 'checking the dead-letter location')
  try {
    await file.check()
  } catch (error) {
    throw new Error(`Invalid chat service setting: ${envName('deadLetterFile')} (option deadLetterFile) "${file.path}" is not usable: ${(error as Error).message}`)
  }
  app.decorate('chatDeadLetter', file)
}

export default fp(deadLetter, { name: 'chat-dead-letter', dependencies: ['chat-settings'] })
