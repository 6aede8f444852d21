// The part of PromQL the Grafana dashboard (docs/grafana/chat-service.json) uses: parsed, so
// that its test can list every metric a panel queries, and evaluated over recorded scrapes, so
// that the dashboard's preview draws what the queries would show. Anything else (binary
// operators, offsets, subqueries) is refused with an error rather than guessed.

export type Matcher = { label: string, op: '=' | '!=' | '=~' | '!~', value: string }

export type Expr =
  | { kind: 'number', value: number }
  | { kind: 'selector', name: string, matchers: Matcher[], rangeSeconds?: number }
  | { kind: 'call', name: string, args: Expr[] }
  | { kind: 'aggregate', op: string, grouping: { without: boolean, labels: string[] } | undefined, arg: Expr }

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'count'])
const FUNCTIONS = new Set(['rate', 'irate', 'increase', 'histogram_quantile'])

/** Grafana's variables, as the preview and the metric check read them. */
export interface Variables {
  /** $__rate_interval, $__interval and $__range, in seconds. */
  rateIntervalSeconds: number
  rangeSeconds: number
  /** Any other $name or ${name}: a value for it inside label matchers. */
  other?: Record<string, string>
}

/** Puts Grafana's variables in: durations for $__rate_interval and friends, `.*` (or the value given) for the others. */
export function substitute (expr: string, variables: Variables): string {
  return expr
    .replace(/\$__rate_interval|\$__interval/g, `${variables.rateIntervalSeconds}s`)
    .replace(/\$__range/g, `${variables.rangeSeconds}s`)
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, plain: string | undefined) => variables.other?.[(braced ?? plain)!] ?? '.*')
}

type Token = { type: 'ident' | 'number' | 'string' | 'duration' | 'punct', text: string }

function tokenize (source: string): Token[] {
  const tokens: Token[] = []
  const pattern = /\s*(?:(\[[^\]]*\])|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|(=~|!~|!=|==|>=|<=|[(){},=+\-*/%^<>]))/y
  let index = 0
  while (index < source.length) {
    if (/^\s*$/.test(source.slice(index))) break
    pattern.lastIndex = index
    const match = pattern.exec(source)
    if (match === null) throw new Error(`PromQL: cannot read "${source.slice(index).trim().slice(0, 20)}" in ${source}`)
    index = pattern.lastIndex
    const [, range, string, number, ident, punct] = match
    if (range !== undefined) tokens.push({ type: 'duration', text: range.slice(1, -1).trim() })
    else if (string !== undefined) tokens.push({ type: 'string', text: JSON.parse(string.startsWith('\'') ? `"${string.slice(1, -1).replace(/"/g, '\\"')}"` : string) })
    else if (number !== undefined) tokens.push({ type: 'number', text: number })
    else if (ident !== undefined) tokens.push({ type: 'ident', text: ident })
    else tokens.push({ type: 'punct', text: punct! })
  }
  return tokens
}

function seconds (duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
  let total = 0
  const rest = duration.replace(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g, (_, value: string, unit: string) => { total += Number(value) * units[unit]!; return '' })
  if (rest !== '' || duration === '') throw new Error(`PromQL: "${duration}" is not a duration`)
  return total
}

/** Parses one expression of the supported part of PromQL. */
export function parse (source: string): Expr {
  const tokens = tokenize(source)
  let position = 0
  const peek = (): Token | undefined => tokens[position]
  const next = (): Token => {
    const token = tokens[position++]
    if (token === undefined) throw new Error(`PromQL: ${source} ends too soon`)
    return token
  }
  const expect = (text: string): void => {
    const token = next()
    if (token.text !== text || token.type === 'string') throw new Error(`PromQL: expected "${text}", found "${token.text}" in ${source}`)
  }
  const labelList = (): string[] => {
    expect('(')
    const labels: string[] = []
    while (peek()?.text !== ')') {
      labels.push(next().text)
      if (peek()?.text === ',') next()
    }
    expect(')')
    return labels
  }
  const grouping = (): { without: boolean, labels: string[] } | undefined => {
    const word = peek()
    if (word?.type === 'ident' && (word.text === 'by' || word.text === 'without')) {
      next()
      return { without: word.text === 'without', labels: labelList() }
    }
    return undefined
  }
  const matchers = (): Matcher[] => {
    const list: Matcher[] = []
    expect('{')
    while (peek()?.text !== '}') {
      const label = next().text
      const op = next().text as Matcher['op']
      if (!['=', '!=', '=~', '!~'].includes(op)) throw new Error(`PromQL: "${op}" is not a label matcher in ${source}`)
      const value = next()
      if (value.type !== 'string') throw new Error(`PromQL: a label value must be a string in ${source}`)
      list.push({ label, op, value: value.text })
      if (peek()?.text === ',') next()
    }
    expect('}')
    return list
  }
  const expression = (): Expr => {
    const token = next()
    if (token.type === 'number') return { kind: 'number', value: Number(token.text) }
    if (token.type === 'punct' && token.text === '(') {
      const inner = expression()
      expect(')')
      return inner
    }
    if (token.type !== 'ident') throw new Error(`PromQL: unexpected "${token.text}" in ${source}`)
    if (AGGREGATIONS.has(token.text)) {
      const before = grouping()
      expect('(')
      const arg = expression()
      expect(')')
      return { kind: 'aggregate', op: token.text, grouping: before ?? grouping(), arg }
    }
    if (peek()?.text === '(') {
      if (!FUNCTIONS.has(token.text)) throw new Error(`PromQL: the function ${token.text} is not supported here`)
      next()
      const args: Expr[] = []
      while (peek()?.text !== ')') {
        args.push(expression())
        if (peek()?.text === ',') next()
      }
      expect(')')
      return { kind: 'call', name: token.text, args }
    }
    const selector: Expr = { kind: 'selector', name: token.text, matchers: peek()?.text === '{' ? matchers() : [] }
    if (peek()?.type === 'duration') selector.rangeSeconds = seconds(next().text)
    return selector
  }
  const parsed = expression()
  if (position < tokens.length) throw new Error(`PromQL: "${tokens[position]!.text}" after the end of ${source} (binary operators are not supported)`)
  return parsed
}

/** Every metric name an expression selects. */
export function metricNames (expr: Expr): string[] {
  switch (expr.kind) {
    case 'number': return []
    case 'selector': return [expr.name]
    case 'call': return expr.args.flatMap(metricNames)
    case 'aggregate': return metricNames(expr.arg)
  }
}

// ---- evaluation over recorded scrapes ----

export type Labels = Record<string, string>
export interface Sample { name: string, labels: Labels, value: number }
/** One scrape: its time (seconds) and every sample it read. */
export interface Scrape { time: number, samples: Sample[] }
/** One series of an instant vector: its labels (the metric name left out, as Prometheus does after a function) and value. */
export interface Point { labels: Labels, value: number }

/** The Prometheus text format, as samples: what a scrape stores (histograms as their _bucket, _sum and _count series). */
export function samplesOf (text: string, extra: Labels): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (match === null) continue
    const labels: Labels = { ...extra }
    for (const [, name, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = value!.replace(/\\(.)/g, '$1')
    const raw = match[3]!
    const value = /^\+?Inf$/.test(raw) ? Infinity : raw === '-Inf' ? -Infinity : Number(raw)
    samples.push({ name: match[1]!, labels, value })
  }
  return samples
}

const key = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))

function matches (sample: Sample, name: string, matchers: Matcher[]): boolean {
  if (sample.name !== name) return false
  return matchers.every(({ label, op, value }) => {
    const actual = sample.labels[label] ?? ''
    if (op === '=') return actual === value
    if (op === '!=') return actual !== value
    const full = new RegExp(`^(?:${value})$`)
    return op === '=~' ? full.test(actual) : !full.test(actual)
  })
}

/** The value of `expr` at scrape `at` of `scrapes` (a scalar comes back as one point without labels). */
export function evaluate (expr: Expr, scrapes: Scrape[], at: number): Point[] {
  const time = scrapes[at]!.time
  switch (expr.kind) {
    case 'number': return [{ labels: {}, value: expr.value }]
    case 'selector': {
      if (expr.rangeSeconds !== undefined) throw new Error('PromQL: a range vector needs rate(), irate() or increase() here')
      return scrapes[at]!.samples
        .filter((sample) => matches(sample, expr.name, expr.matchers))
        .map((sample) => ({ labels: sample.labels, value: sample.value }))
    }
    case 'call': {
      if (expr.name === 'histogram_quantile') {
        const [quantile, buckets] = expr.args
        if (quantile?.kind !== 'number' || buckets === undefined) throw new Error('PromQL: histogram_quantile(number, buckets)')
        return histogramQuantile(quantile.value, evaluate(buckets, scrapes, at))
      }
      const [range] = expr.args
      if (range?.kind !== 'selector' || range.rangeSeconds === undefined) throw new Error(`PromQL: ${expr.name}() takes a range vector`)
      const window = scrapes.filter((scrape) => scrape.time > time - range.rangeSeconds! && scrape.time <= time)
      const series = new Map<string, { labels: Labels, points: Array<[number, number]> }>()
      for (const scrape of window) {
        for (const sample of scrape.samples) {
          if (!matches(sample, range.name, range.matchers)) continue
          const id = key(sample.labels)
          const entry = series.get(id) ?? { labels: sample.labels, points: [] }
          entry.points.push([scrape.time, sample.value])
          series.set(id, entry)
        }
      }
      const points: Point[] = []
      for (const { labels, points: values } of series.values()) {
        const used = expr.name === 'irate' ? values.slice(-2) : values
        if (used.length < 2) continue
        let increase = 0
        for (let i = 1; i < used.length; i++) {
          const delta = used[i]![1] - used[i - 1]![1]
          // A counter that went down was reset (a restart): count from zero.
          increase += delta >= 0 ? delta : used[i]![1]
        }
        const elapsed = used.at(-1)![0] - used[0]![0]
        points.push({ labels, value: expr.name === 'increase' ? increase : increase / elapsed })
      }
      return points
    }
    case 'aggregate': {
      const groups = new Map<string, { labels: Labels, values: number[] }>()
      for (const point of evaluate(expr.arg, scrapes, at)) {
        const kept: Labels = {}
        for (const [label, value] of Object.entries(point.labels)) {
          const listed = expr.grouping?.labels.includes(label) ?? false
          if (expr.grouping !== undefined && (expr.grouping.without ? !listed : listed)) kept[label] = value
        }
        const id = key(kept)
        const group = groups.get(id) ?? { labels: kept, values: [] }
        group.values.push(point.value)
        groups.set(id, group)
      }
      const reduce: Record<string, (values: number[]) => number> = {
        sum: (values) => values.reduce((a, b) => a + b, 0),
        min: (values) => Math.min(...values),
        max: (values) => Math.max(...values),
        avg: (values) => values.reduce((a, b) => a + b, 0) / values.length,
        count: (values) => values.length
      }
      return [...groups.values()].map(({ labels, values }) => ({ labels, value: reduce[expr.op]!(values) }))
    }
  }
}

/** Prometheus's histogram_quantile: linear interpolation inside the bucket the rank falls in. */
function histogramQuantile (quantile: number, buckets: Point[]): Point[] {
  const groups = new Map<string, { labels: Labels, buckets: Array<[number, number]> }>()
  for (const { labels, value } of buckets) {
    const { le, ...rest } = labels
    if (le === undefined) continue
    const id = key(rest)
    const group = groups.get(id) ?? { labels: rest, buckets: [] }
    group.buckets.push([le === '+Inf' ? Infinity : Number(le), value])
    groups.set(id, group)
  }
  const points: Point[] = []
  for (const { labels, buckets: list } of groups.values()) {
    list.sort(([a], [b]) => a - b)
    const total = list.at(-1)?.[1] ?? 0
    if (total === 0) continue
    const rank = quantile * total
    let index = list.findIndex(([, count]) => count >= rank)
    if (index === -1) index = list.length - 1
    const [upper, count] = list[index]!
    if (upper === Infinity) {
      points.push({ labels, value: list[index - 1]?.[0] ?? NaN })
      continue
    }
    const [lower, below] = index === 0 ? [0, 0] : list[index - 1]!
    points.push({ labels, value: lower + (upper - lower) * ((rank - below) / Math.max(count - below, Number.EPSILON)) })
  }
  return points
}
