// The Grafana dashboard (docs/grafana/chat-service.json) cannot drift from the code: every metric
// its panels and variables query is one the real service exports at GET /metrics, and it
// imports as it is (the data source is a variable, every query is one the preview can draw).
import t from 'tap'
import parsePrometheusText from 'parse-prometheus-text-format'
import { loadDashboard, missingMetrics, panelsOf, queriedMetrics, type Dashboard } from '../scripts/grafana/dashboard.js'
import { parse, substitute } from '../scripts/grafana/promql.js'
import { buildService, startRedis } from './helper.js'

const dashboard = loadDashboard()

t.test('imports as it is: the data source is a variable, ids are unique, panels fit the grid', async (t) => {
  const variables = dashboard.templating?.list ?? []
  t.match(variables.find((variable) => variable.name === 'datasource'), { type: 'datasource', query: 'prometheus' }, 'a Prometheus data source variable')
  t.notOk(JSON.stringify(dashboard).includes('__inputs'), 'no import-time inputs to fill in')
  const panels = panelsOf(dashboard)
  t.ok(panels.length >= 10)
  // eslint-disable-next-line no-template-curly-in-string -- Grafana's own variable, not a template literal
  const datasource = { type: 'prometheus', uid: '${datasource}' }
  for (const panel of panels) {
    t.same(panel.datasource, datasource, `${panel.title}: the data source variable`)
    for (const target of panel.targets ?? []) t.same(target.datasource, datasource, `${panel.title} ${target.refId}: the data source variable`)
    t.ok(panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title}: within the 24 columns`)
    t.ok((panel.targets ?? []).length > 0, `${panel.title}: queries something`)
  }
  const ids = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).map((panel) => panel.id)
  t.equal(new Set(ids).size, ids.length, 'panel ids are unique')
})

t.test('every query is in the PromQL the preview evaluates', async (t) => {
  for (const panel of panelsOf(dashboard)) {
    for (const target of panel.targets ?? []) {
      t.doesNotThrow(() => parse(substitute(target.expr, { rateIntervalSeconds: 60, rangeSeconds: 3600 })), `${panel.title}: ${target.expr}`)
    }
  }
})

t.test('every metric a panel queries is exported by the real GET /metrics', async (t) => {
  // With Redis, so that chat_redis_up is exported too.
  const redis = await startRedis(t)
  const service = await buildService(t, { redisUrl: redis.url })
  const response = await fetch(`${service.base}/metrics`)
  t.equal(response.status, 200)
  const exported = parsePrometheusText(await response.text())
  t.ok(exported.some((family) => family.name === 'chat_redis_up'), 'the Redis gauge is there')
  const queried = queriedMetrics(dashboard)
  t.ok(queried.length >= 15, `${queried.length} metric references`)
  const missing = missingMetrics(dashboard, exported)
  t.same(missing, [], missing.map(({ panel, metric }) => `panel "${panel}" queries ${metric}, which GET /metrics does not export`).join('; ') || 'all exported')
})

t.test('the check names the panel and the metric when a panel queries one that does not exist', async (t) => {
  const drifted = structuredClone(dashboard) as Dashboard
  const panel = panelsOf(drifted).find((candidate) => candidate.title === 'Deliveries/s')!
  panel.targets![0]!.expr = panel.targets![0]!.expr.replace('chat_deliveries_total', 'chat_delivered_total')
  // Everything the dashboard queries, exported: the histogram as its family, without the suffix.
  const exported = queriedMetrics(dashboard).map(({ metric }) => metric.endsWith('_bucket')
    ? { name: metric.slice(0, -'_bucket'.length), type: 'HISTOGRAM' }
    : { name: metric, type: 'GAUGE' })
  t.same(missingMetrics(dashboard, exported), [], 'the dashboard as it is: nothing missing (a histogram\'s _bucket series counts as its family)')
  t.same(missingMetrics(drifted, exported), [{ panel: 'Deliveries/s', metric: 'chat_delivered_total' }])
})
