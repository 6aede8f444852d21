import t from 'tap'
import { singleInstance } from '../../../lib/delivery/broker.js'
import { Hub } from '../../../lib/delivery/hub.js'
import { MessageIntake, type IntakeOptions } from '../../../lib/messages/message-intake.js'
import type { ChatMessage, MessageDocument } from '../../../lib/messages/message.js'
import { LocalSequencer } from '../../../lib/messages/sequencer.js'

function intakeWith (findByClientId: IntakeOptions['findByClientId']) {
  const queued: MessageDocument[] = []
  const intake = new MessageIntake({
    writer: {
      hasRoom: true,
      accepting: true,
      enqueue: (document: MessageDocument) => queued.push(document) > 0,
      watch: () => {}
    },
    fanout: singleInstance(new Hub(), new LocalSequencer()),
    findByClientId,
    trackStores: false
  })
  return { intake, queued }
}

t.test('a clientId stored before: the resend is answered with the stored message, nothing queued', async (t) => {
  const stored: ChatMessage = { id: '6566f0c2a1b2c3d4e5f60718', channel: 'general', sender: 'alice', content: 'hi', createdAt: new Date(), seq: 7, clientId: 'c-1' }
  const { intake, queued } = intakeWith(async () => stored)
  const sent = await intake.send({ channel: 'general', sender: 'alice', content: 'hi', clientId: 'c-1' })
  t.equal(sent.duplicate, true)
  t.equal(sent.message.id, stored.id)
  t.equal(queued.length, 0)
})

t.test('a lookup that finds nothing (or gave up in time) takes the message as new, once per clientId', async (t) => {
  const { intake, queued } = intakeWith(async () => undefined)
  const [first, resend] = await Promise.all([
    intake.send({ channel: 'general', sender: 'alice', content: 'hi', clientId: 'c-1' }),
    intake.send({ channel: 'general', sender: 'alice', content: 'hi', clientId: 'c-1' })
  ])
  t.equal(first.duplicate, false)
  t.equal(resend.duplicate, true)
  t.equal(resend.message.id, first.message.id)
  t.equal(queued.length, 1)
})
