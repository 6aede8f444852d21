import { ObjectId } from 'mongodb'
import { isoTime } from '../util/iso-time.js'

/** A chat message as clients see it (REST bodies, history and WebSocket frames). */
export interface ChatMessage {
  id: string
  channel: string
  sender: string
  content: string
  createdAt: Date
  /** The message's place in its channel: every instance orders the channel's messages by it (see lib/messages/sequencer.ts). */
  seq: number
  /** The sender's own id for the message, which makes a resend idempotent; only when the sender gave one. */
  clientId?: string
  /** When the sender last edited it. */
  editedAt?: Date
  /** When it was deleted: it stays as a tombstone, its content "". */
  deletedAt?: Date
}

/** A message before it has its place in the channel. */
export type Draft = Omit<ChatMessage, 'seq'>

/** A chat message as MongoDB stores it: the message id is the `_id`, so a retried write cannot duplicate it. */
export interface MessageDocument extends Omit<ChatMessage, 'id'> {
  _id: ObjectId
  /** The seq of the last change applied (see lib/messages/message-changes.ts): an older one that comes late changes nothing. */
  changeSeq?: number
}

/**
 * Ids are ObjectIds: unique without a database round-trip. Order comes from `seq`, not from the
 * id. Keep `objectId` to hand it to toDocument: parsing the hex id back costs more than the rest of it.
 */
export function createDraft (channel: string, sender: string, content: string, clientId?: string, objectId = new ObjectId()): Draft {
  const draft: Draft = { id: objectId.toHexString(), channel, sender, content, createdAt: new Date() }
  if (clientId !== undefined) draft.clientId = clientId
  return draft
}

/** The message with its place; fields in the order clients see them (seq, then clientId when given). */
export function withSeq (draft: Draft, seq: number): ChatMessage {
  // Built field by field: rest and spread copies are a measurable part of a message's cost.
  const message: ChatMessage = {
    id: draft.id,
    channel: draft.channel,
    sender: draft.sender,
    content: draft.content,
    createdAt: draft.createdAt,
    seq
  }
  if (draft.clientId !== undefined) message.clientId = draft.clientId
  return message
}

/** `objectId`, when given, is the message's id as an ObjectId already (see createDraft). */
export function toDocument (message: ChatMessage, objectId = new ObjectId(message.id)): MessageDocument {
  const document: MessageDocument = {
    _id: objectId,
    channel: message.channel,
    sender: message.sender,
    content: message.content,
    createdAt: message.createdAt,
    seq: message.seq
  }
  if (message.clientId !== undefined) document.clientId = message.clientId
  return document
}

/**
 * The message's JSON, as JSON.stringify(withSeq(draft, seq)) writes it, with `seq` given as
 * its decimal text. Written by hand because it is built for every message: only the strings
 * that can hold anything are escaped (id and createdAt cannot need it, nor a clientId, by its pattern).
 */
export function messageJson (draft: Draft, seq: string): string {
  return jsonBeforeSeq(draft) + seq + jsonAfterSeq(draft)
}

/** The message's JSON up to its seq (see messageJson): a sequencer that assigns the seq elsewhere (Redis) appends the rest. */
export function jsonBeforeSeq (draft: Draft): string {
  return `{"id":"${draft.id}","channel":${JSON.stringify(draft.channel)},"sender":${JSON.stringify(draft.sender)},` +
    `"content":${JSON.stringify(draft.content)},"createdAt":"${isoTime(draft.createdAt)}","seq":`
}

/** The message's JSON after its seq (see messageJson). */
export function jsonAfterSeq (draft: Draft): string {
  return draft.clientId === undefined ? '}' : `,"clientId":"${draft.clientId}"}`
}

export function fromDocument (document: MessageDocument): ChatMessage {
  const { _id, seq, clientId, changeSeq: _changeSeq, ...fields } = document
  // Documents stored before messages had a seq sort before every later one.
  const message: ChatMessage = { id: _id.toHexString(), ...fields, seq: seq ?? 0 }
  if (clientId !== undefined) message.clientId = clientId
  return message
}
