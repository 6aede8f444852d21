import t from 'tap'
import { ObjectId } from 'mongodb'
import { createDraft, jsonAfterSeq, jsonBeforeSeq, messageJson, toDocument, withSeq } from '../../../lib/messages/message.js'

t.test('messageJson writes what JSON.stringify writes, whatever the strings hold', async (t) => {
  const awkward = 'quote " backslash \\ newline \n tab \t control \u0001 emoji 😀 lone surrogate \ud800 line sep \u2028'
  for (const clientId of [undefined, 'c-1.a:b_c']) {
    const draft = createDraft(`room-${awkward}`, `user ${awkward}`, awkward, clientId)
    for (const seq of [1, 1_764_000_000_000_123]) {
      t.equal(messageJson(draft, String(seq)), JSON.stringify(withSeq(draft, seq)), `clientId ${clientId}, seq ${seq}`)
    }
  }
})

t.test('the JSON before and after the seq join with a seq into the message JSON', async (t) => {
  for (const draft of [createDraft('room', 'user', 'has ,"seq":0 inside', 'c1'), createDraft('room', 'user', 'no clientId')]) {
    t.equal(jsonBeforeSeq(draft) + '42' + jsonAfterSeq(draft), JSON.stringify(withSeq(draft, 42)))
  }
})

t.test('toDocument stores the ObjectId the draft was made with, or parses the id when not given one', async (t) => {
  const objectId = new ObjectId()
  const message = withSeq(createDraft('room', 'user', 'hi', undefined, objectId), 1)
  t.equal(message.id, objectId.toHexString())
  t.equal(toDocument(message, objectId)._id, objectId)
  t.equal(toDocument(message)._id.toHexString(), message.id)
})
