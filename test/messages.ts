// Messages for tests of the parts below the routes, each with the next seq of a test-wide sequence.
import { createDraft, toDocument, withSeq, type ChatMessage, type MessageDocument } from '../lib/messages/message.js'

let lastSeq = 0

export function testMessage (channel: string, sender: string, content: string, clientId?: string): ChatMessage {
  return withSeq(createDraft(channel, sender, content, clientId), ++lastSeq)
}

export function testDocument (channel: string, sender: string, content: string, clientId?: string): MessageDocument {
  return toDocument(testMessage(channel, sender, content, clientId))
}
