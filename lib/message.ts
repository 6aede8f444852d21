import { ObjectId } from 'mongodb'

/** A chat message as clients see it (REST bodies and WebSocket frames). */
export interface ChatMessage {
  id: string
  channel: string
  sender: string
  content: string
  createdAt: Date
}

/** A chat message as MongoDB stores it: the message id is the `_id`, so a retried write cannot duplicate it. */
export interface MessageDocument {
  _id: ObjectId
  channel: string
  sender: string
  content: string
  createdAt: Date
}

/** Ids are ObjectIds: unique without a database round-trip and ordered by creation time. */
export function createMessage (channel: string, sender: string, content: string): ChatMessage {
  const id = new ObjectId()
  return { id: id.toHexString(), channel, sender, content, createdAt: new Date() }
}

export function toDocument (message: ChatMessage): MessageDocument {
  const { id, ...fields } = message
  return { _id: new ObjectId(id), ...fields }
}

export function fromDocument (document: MessageDocument): ChatMessage {
  const { _id, ...fields } = document
  return { id: _id.toHexString(), ...fields }
}

