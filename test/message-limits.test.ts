// Every content the rules allow (1 to 4096 code points, however JSON escapes them) is accepted
// over REST and WebSocket; larger bodies and frames are refused; lone surrogates are refused.
import t from 'tap'
import { bearer, buildService, Client, eventually, post } from './helper.js'

const alice = { id: 'alice', groups: ['team'] }
const emoji = '\u{1F600}'.repeat(4096)
const controls = '\u0001'.repeat(4096)

/** JSON with every character outside printable ASCII escaped as \uXXXX: 12 bytes per emoji. */
function escapedJson (value: object): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

const legal: Array<[string, string, string]> = [
  ['4096 four-byte characters', emoji, JSON.stringify({ content: emoji, clientId: 'c'.repeat(64) })],
  ['4096 four-byte characters escaped as surrogate pairs', emoji, escapedJson({ content: emoji, clientId: 'd'.repeat(64) })],
  ['4096 characters that JSON escapes as \\u0001', controls, JSON.stringify({ content: controls, clientId: 'e'.repeat(64) })]
]

t.test('the largest legal messages are accepted over REST and stored as sent', async (t) => {
  const service = await buildService(t)
  for (const [name, content, body] of legal) {
    const answer = await post(`${service.base}/api/messages/team`, body, bearer(alice))
    t.equal(answer.status, 201, `${name}: ${Buffer.byteLength(body)} bytes`)
    t.equal(answer.body.content, content, `${name}: echoed as sent`)
  }
  const stored = await eventually(
    () => service.collection.find().sort({ seq: 1 }).toArray(),
    (documents) => documents.length === legal.length
  )
  t.same(stored.map((document) => document.content), legal.map(([, content]) => content), 'stored as sent')
})

t.test('the largest legal messages are accepted over WebSocket', async (t) => {
  const service = await buildService(t)
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  for (const [, , body] of legal) client.send(body)
  const frames = await client.receive(legal.length * 2)
  t.same(frames.filter((frame) => frame.error !== undefined), [], 'no error frames')
  t.same(frames.filter((frame) => frame.content !== undefined).map((frame) => frame.content), legal.map(([, content]) => content))
  t.equal(client.socket.readyState, client.socket.OPEN)
  await client.close()
})

t.test('larger is refused: 413 over REST, an error frame over WebSocket, 1009 only far beyond', async (t) => {
  const service = await buildService(t)
  const tooLarge = JSON.stringify({ content: 'x', padding: 'p'.repeat(70 * 1024) })
  const answer = await post(`${service.base}/api/messages/team`, tooLarge, bearer(alice))
  t.match(answer, { status: 413, body: { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' } })
  t.match((await post(`${service.base}/api/messages/team`, { content: 'x'.repeat(4097) }, bearer(alice))).body, { statusCode: 400 }, '4097 characters: 400')

  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  client.send(tooLarge)
  client.send({ content: 'still open' })
  const [refusal, message] = await client.receive(2)
  t.match(refusal, { error: { statusCode: 413, code: 'CHAT_BODY_TOO_LARGE' } })
  t.match(message, { content: 'still open' })
  client.send({ content: 'x'.repeat(1_100_000) })
  t.equal((await client.closed).code, 1009, 'a frame over 1 MiB closes the socket')
})

t.test('content with a lone surrogate is refused with 400 on both transports', async (t) => {
  const service = await buildService(t)
  for (const body of ['{"content":"a\\ud800b"}', '{"content":"\\udfffx"}', '{"content":"x\\ud83d"}']) {
    const answer = await post(`${service.base}/api/messages/team`, body, bearer(alice))
    t.match(answer, { status: 400, body: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', message: /lone surrogate/ } }, `REST ${body}`)
  }
  t.equal((await post(`${service.base}/api/messages/team`, '{"content":"\\ud83d\\ude00"}', bearer(alice))).status, 201, 'a surrogate pair is fine')
  const client = await Client.open(`${service.ws}?channel=team`, { headers: bearer(alice) })
  client.send('{"content":"a\\ud800b","clientId":"lone"}')
  const [refusal] = await client.receive(1)
  t.match(refusal, { error: { statusCode: 400, code: 'CHAT_INVALID_MESSAGE', message: /lone surrogate/, clientId: 'lone' } })
  t.equal(await service.collection.countDocuments({ content: { $ne: '\u{1F600}' } }), 0, 'nothing with a lone surrogate was stored')
  await client.close()
})
