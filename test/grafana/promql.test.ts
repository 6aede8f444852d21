// The PromQL the dashboard preview evaluates: metric names, rate and increase over scrapes (a
// counter reset included), aggregation by labels, and histogram_quantile as Prometheus computes it.
import t from 'tap'
import { evaluate, metricNames, parse, samplesOf, substitute, type Scrape } from '../../scripts/grafana/promql.js'
import { formatValue } from '../../scripts/grafana/render.js'

const exposition = (accepted: { rest: number, ws: number }, buckets: [number, number, number]): string => `# HELP chat_messages_accepted_total x
# TYPE chat_messages_accepted_total counter
chat_messages_accepted_total{transport="rest"} ${accepted.rest}
chat_messages_accepted_total{transport="ws"} ${accepted.ws}
# TYPE chat_write_batch_duration_seconds histogram
chat_write_batch_duration_seconds_bucket{le="0.01"} ${buckets[0]}
chat_write_batch_duration_seconds_bucket{le="0.1"} ${buckets[1]}
chat_write_batch_duration_seconds_bucket{le="+Inf"} ${buckets[2]}
chat_write_batch_duration_seconds_sum 1
chat_write_batch_duration_seconds_count ${buckets[2]}
`

const scrapes: Scrape[] = [
  { time: 0, samples: samplesOf(exposition({ rest: 0, ws: 0 }, [0, 0, 0]), { instance: 'a' }) },
  { time: 10, samples: samplesOf(exposition({ rest: 10, ws: 100 }, [50, 90, 100]), { instance: 'a' }) },
  // The process restarted: the ws counter starts from 0 again.
  { time: 20, samples: samplesOf(exposition({ rest: 30, ws: 40 }, [100, 180, 200]), { instance: 'a' }) }
]

t.test('the exposition becomes samples, with the labels Prometheus adds', async (t) => {
  const samples = scrapes[1]!.samples
  t.match(samples.find((sample) => sample.name === 'chat_messages_accepted_total' && sample.labels.transport === 'ws'), { value: 100, labels: { instance: 'a' } })
  t.equal(samples.find((sample) => sample.labels.le === '+Inf')!.value, 100)
})

t.test('metric names and Grafana variables', async (t) => {
  const expr = 'histogram_quantile(0.99, sum by (le) (rate(chat_write_batch_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'
  t.same(metricNames(parse(substitute(expr, { rateIntervalSeconds: 60, rangeSeconds: 3600 }))), ['chat_write_batch_duration_seconds_bucket'])
  // eslint-disable-next-line no-template-curly-in-string -- Grafana's own variable syntax, which substitute() replaces
  t.equal(substitute('x{instance=~"${instance}"}[$__range]', { rateIntervalSeconds: 1, rangeSeconds: 7 }), 'x{instance=~".*"}[7s]')
  t.throws(() => parse('a + b'), /binary operators/)
  t.throws(() => parse('label_replace(a, "x", "y", "z", "w")'), /not supported/)
})

t.test('rate and increase, with a counter reset; sum by a label', async (t) => {
  const at = (expr: string, index: number) => evaluate(parse(expr), scrapes, index)
  t.same(at('sum by (transport) (rate(chat_messages_accepted_total[15s]))', 1), [{ labels: { transport: 'rest' }, value: 1 }, { labels: { transport: 'ws' }, value: 10 }])
  t.same(at('sum by (transport) (rate(chat_messages_accepted_total[15s]))', 2), [{ labels: { transport: 'rest' }, value: 2 }, { labels: { transport: 'ws' }, value: 4 }], 'after the reset, 40 new')
  t.same(at('sum(increase(chat_messages_accepted_total[30s]))', 2), [{ labels: {}, value: 30 + 140 }])
  t.same(at('max by (instance) (chat_messages_accepted_total)', 2), [{ labels: { instance: 'a' }, value: 40 }])
})

t.test('histogram_quantile interpolates inside the bucket, as Prometheus does', async (t) => {
  const quantile = (q: number) => evaluate(parse(`histogram_quantile(${q}, sum by (le) (rate(chat_write_batch_duration_seconds_bucket[15s])))`), scrapes, 1)[0]!.value
  t.equal(quantile(0.5), 0.01, 'rank 50 of 100: the top of the first bucket')
  t.ok(Math.abs(quantile(0.7) - (0.01 + 0.09 * (20 / 40))) < 1e-9, 'rank 70: halfway through the second')
  t.equal(quantile(0.99), 0.1, 'in the +Inf bucket: the highest finite bound')
})

t.test('values print in the panel\'s unit', async (t) => {
  t.equal(formatValue(1536, 'short'), '1.5 K')
  t.equal(formatValue(0.0042, 's'), '4.2 ms')
  t.equal(formatValue(64 * 2 ** 20, 'bytes'), '64 MiB')
  t.equal(formatValue(0.07, 'percentunit'), '7%')
})
