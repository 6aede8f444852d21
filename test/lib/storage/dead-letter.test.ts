import t from 'tap'
import { execFileSync } from 'node:child_process'
import { constants } from 'node:fs'
import { appendFile, open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DeadLetterFile } from '../../../lib/storage/dead-letter.js'
import type { MessageDocument } from '../../../lib/messages/message.js'
import { testDocument } from '../../messages.js'

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

t.test('check: creates the directory, leaves nothing behind, and says what is wrong with an unusable location', async (t) => {
  const directory = t.testdir({ 'a-file': 'x', 'a-directory': {} })
  await new DeadLetterFile(join(directory, 'new', 'nested', 'dead.jsonl')).check()
  t.same(await readdir(join(directory, 'new', 'nested')), [], 'the directory exists, the probe file is gone')
  await t.rejects(new DeadLetterFile(join(directory, 'a-file', 'dead.jsonl')).check(), /cannot create directory .+a-file.+: File exists/)
  await t.rejects(new DeadLetterFile('/proc/chat-dead-letters/dead.jsonl').check(), /No such file or directory/)
  await t.rejects(new DeadLetterFile(join(directory, 'a-directory')).check(), /Is a directory/, 'the file itself must be appendable')
})

t.test('check and append give up after their timeout when the file system does not answer', async (t) => {
  // Opening a FIFO that nobody reads blocks: it stands for a file system that never answers.
  const path = join(t.testdir(), 'fifo.jsonl')
  execFileSync('mkfifo', [path])
  const file = new DeadLetterFile(path, 300)
  let started = Date.now()
  await t.rejects(file.check(), /did not answer within 300 ms/)
  t.ok(Date.now() - started < 3_000, 'the check, run in a child process, was abandoned')
  started = Date.now()
  await t.rejects(file.append([testDocument('c', 'u', 'x')]), /did not answer within 300 ms/)
  t.ok(Date.now() - started < 3_000, 'the append was abandoned')
  // The append's thread still waits in open(): a reader lets it finish, or this process could not exit.
  const reader = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  await new Promise((resolve) => setTimeout(resolve, 200))
  await reader.close()
})
