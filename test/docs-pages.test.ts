// The Markdown docs: README.md, BENCHMARKS.md and the pages under docs/. Every setting is
// documented with its default, every relative link and anchor resolves, the two top pages stay
// short, and the files say what is true now, dated by commits, not how the work went.
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { SettingsSchema, envName } from '../lib/config/settings.js'

const root = resolve(import.meta.dirname, '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')
const pages = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
const files = ['README.md', 'BENCHMARKS.md', ...pages]

/** The lines of a Markdown file outside fenced code blocks. */
function prose (text: string): string[] {
  let fenced = false
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced
    return !fenced && !line.startsWith('```')
  })
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors (text: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const line of prose(text)) {
    const heading = /^#{1,6} (.*)$/.exec(line)
    if (heading === null) continue
    const slug = heading[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    result.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return result
}

t.test('the pages the README links to exist', async (t) => {
  for (const page of ['api', 'protocol', 'authentication', 'configuration', 'reliability', 'limits', 'operations', 'scaling', 'mounting', 'development', 'known-limits']) {
    t.ok(pages.includes(`docs/${page}.md`), `docs/${page}.md exists`)
    t.match(read('README.md'), `(docs/${page}.md`, `README.md links to docs/${page}.md`)
  }
})

t.test('README.md is at most 400 lines and BENCHMARKS.md at most 300', async (t) => {
  t.ok(read('README.md').split('\n').length <= 401, 'README.md')
  t.ok(read('BENCHMARKS.md').split('\n').length <= 301, 'BENCHMARKS.md')
})

t.test('the README has the two commands, the path of a message and the endpoints', async (t) => {
  const readme = read('README.md')
  t.match(readme, 'npm install && JWT_SECRET=change-me npm start')
  t.match(readme, /```bash\nnpm test\n```/)
  t.match(readme, /intake[\s\S]*checks[\s\S]*seq[\s\S]*fan-out[\s\S]*MongoDB[\s\S]*ack/i, 'the path a message takes, in order')
  for (const endpoint of ['GET /health', 'GET /ready', 'GET /metrics', 'GET /ws', 'POST /api/messages/', 'GET /api/messages/', 'GET /api/messages/counts', 'GET /docs']) {
    t.match(readme, endpoint, `${endpoint} is listed`)
  }
})

t.test('every setting is documented in docs/configuration.md with its environment name and default, and listed in the README', async (t) => {
  const configuration = read('docs/configuration.md').split('\n')
  const readme = read('README.md')
  for (const [name, schema] of Object.entries(SettingsSchema.properties) as Array<[string, { default?: unknown }]>) {
    const row = configuration.find((line) => line.startsWith(`| \`${name}\` | \`${envName(name)}\` |`))
    if (row === undefined) {
      t.fail(`${name} (${envName(name)}) has a row in docs/configuration.md`)
      continue
    }
    if (schema.default !== undefined) t.match(row.split('|')[3], `\`${String(schema.default)}\``, `${name}: the default ${String(schema.default)}`)
    t.match(readme, `\`${envName(name)}\``, `${envName(name)} is in the README's table`)
  }
  for (const option of ['authorize', 'metricsRegistry', 'prefix']) {
    t.match(read('docs/mounting.md'), new RegExp(`\`${option}[\`(]`), `the option ${option} is documented in docs/mounting.md`)
  }
})

t.test('the WebSocket close codes and the frames are documented in docs/protocol.md', async (t) => {
  const protocol = read('docs/protocol.md')
  for (const code of ['1001', '1009', '1011', '4001']) t.match(protocol, new RegExp(`\\| ${code} \\|`), `close code ${code} has a row`)
  for (const frame of ['"ack"', '"error"', '"content"', 'since=']) t.match(protocol, frame)
})

t.test('every relative link and anchor in README.md, BENCHMARKS.md and docs/ resolves', async (t) => {
  const anchorsOf = new Map<string, Set<string>>()
  const anchorsIn = (path: string) => {
    if (!anchorsOf.has(path)) anchorsOf.set(path, anchors(readFileSync(path, 'utf8')))
    return anchorsOf.get(path)!
  }
  let checked = 0
  for (const file of files) {
    const from = join(root, file)
    for (const line of prose(read(file))) {
      for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue
        checked++
        const [path, anchor] = target!.split('#') as [string, string | undefined]
        const to = path === '' ? from : resolve(dirname(from), path)
        if (!existsSync(to)) {
          t.fail(`${file}: ${target} names a file that does not exist`)
          continue
        }
        t.ok(relative(root, to) !== '' && !relative(root, to).startsWith('..'), `${file}: ${target} stays in the repository`)
        if (anchor !== undefined) t.ok(anchorsIn(to).has(anchor), `${file}: #${anchor} is a heading of ${relative(root, to)}`)
      }
    }
  }
  t.ok(checked > 50, `${checked} links checked`)
})

t.test('the docs describe what is true now: no diary wording, no machine paths', async (t) => {
  const ordinal = 'first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth'
  const diary = [
    /\bsessions?\b/i,
    new RegExp(`\\bthe (${ordinal})('s)? (full )?(run|period|round of work)\\b`, 'i'),
    new RegExp(`\\b(${ordinal}) (period|work period)\\b`, 'i'),
    /\bin this period\b/i,
    /\bwe then tried\b/i,
    /(^|[\s`(])\/(work|tmp|home)\//
  ]
  for (const file of files) {
    read(file).split('\n').forEach((line, index) => {
      for (const pattern of diary) if (pattern.test(line)) t.fail(`${file}:${index + 1} matches ${pattern}: ${line.trim()}`)
    })
  }
  t.pass(`${files.length} files read`)
})
