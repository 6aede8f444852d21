import t from 'tap'
import { appendFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DeadLetterFile } from '../../lib/dead-letter.js'
import type { MessageDocument } from '../../lib/message.js'
import { testDocument } from '../messages.js'

t.test('appended messages replay as they were; a line torn by a crash is skipped, not fatal', async (t) => {
  const directory = t.testdir()
  const file = new DeadLetterFile(join(directory, 'nested', 'dead.jsonl'))
  const documents = ['a', 'b', 'c'].map((content) => testDocument('c', 'u', content))
  await file.append(documents.slice(0, 2))
  // A crash in the middle of an append leaves a line without its end.
  await appendFile(file.path, '{"_id":"6b06')
  await file.append(documents.slice(2))

  const batches: MessageDocument[][] = []
  t.equal(await file.replay(async (batch) => { batches.push(batch) }, 2), 3)
  t.same(batches.map((batch) => batch.length), [2, 1])
  t.same(batches.flat(), documents, 'ids, dates and fields round-trip')
  t.same(await readdir(join(directory, 'nested')), [], 'replayed files are removed')
  t.equal(await file.replay(async () => { t.fail('nothing left to replay') }, 2), 0)
})

t.test('a failed replay keeps its file for the next one, and new appends do not mix into it', async (t) => {
  const file = new DeadLetterFile(join(t.testdir(), 'dead.jsonl'))
  await file.append([testDocument('c', 'u', 'first')])
  await t.rejects(file.replay(async () => { throw new Error('database down') }, 10))
  await file.append([testDocument('c', 'u', 'second')])
  const replayed: string[] = []
  t.equal(await file.replay(async (batch) => { replayed.push(...batch.map((doc) => doc.content)) }, 10), 2)
  t.same(replayed.sort(), ['first', 'second'])
})
