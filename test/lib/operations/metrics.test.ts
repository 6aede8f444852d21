import t from 'tap'
import parsePrometheusText from 'parse-prometheus-text-format'
import { Registry } from 'prom-client'
import { disabledMetrics, PrometheusMetrics } from '../../../lib/operations/metrics.js'

async function refusals (metrics: PrometheusMetrics): Promise<Record<string, number>> {
  const family = parsePrometheusText(await metrics.scrape()).find((found) => found.name === 'chat_messages_refused_total')!
  return Object.fromEntries(family.metrics.map((sample) => [sample.labels!.reason, Number(sample.value)]))
}

t.test('refusals: transport errors map to stable reasons by status; 503s are left to send', async (t) => {
  const metrics = new PrometheusMetrics({ registry: new Registry(), withProcessMetrics: false })
  for (const statusCode of [400, 413, 415, 401, 403, 429, 503, 500, 404]) metrics.refusedWith({ statusCode })
  metrics.refusedWith(new Error('no status'))
  metrics.refusedWith(undefined)
  metrics.refused('shutting_down')
  metrics.refused('queue_full')
  metrics.refused('queue_full')
  t.same(await refusals(metrics), { invalid: 3, unauthorized: 1, forbidden: 1, rate_limited: 1, queue_full: 2, shutting_down: 1 })
})

t.test('timedWrites counts a batch as stored only once its insert succeeded, and times every attempt', async (t) => {
  const metrics = new PrometheusMetrics({ registry: new Registry(), withProcessMetrics: false })
  let fail = true
  const insert = metrics.timedWrites(async () => { if (fail) throw new Error('down') })
  await t.rejects(insert([{} as never, {} as never]), /down/)
  fail = false
  await insert([{} as never, {} as never])
  const families = parsePrometheusText(await metrics.scrape())
  t.equal(families.find((family) => family.name === 'chat_messages_stored_total')!.metrics[0]!.value, '2')
  t.equal(families.find((family) => family.name === 'chat_write_batch_duration_seconds')!.metrics[0]!.count, '2')
})

t.test('a shared registry: a second instance is refused clearly, and unregister removes only its own metrics', async (t) => {
  const registry = new Registry()
  const first = new PrometheusMetrics({ registry, withProcessMetrics: false })
  t.throws(() => new PrometheusMetrics({ registry, withProcessMetrics: false }), /Each chat instance needs a registry of its own/)
  t.ok(registry.getSingleMetric('chat_messages_accepted_total'), "the failed one took nothing of the first one's")
  first.watchRedis(() => true)
  first.unregister()
  t.same(registry.getMetricsAsArray(), [])
  t.doesNotThrow(() => new PrometheusMetrics({ registry, withProcessMetrics: false }), 'the names are free again')
})

t.test('disabled metrics keep nothing and leave the writer untouched', async (t) => {
  const insert = async () => {}
  t.equal(disabledMetrics.timedWrites(insert), insert)
  disabledMetrics.accepted('ws')
  disabledMetrics.delivered(5)
  t.equal(await disabledMetrics.scrape(), '')
})
