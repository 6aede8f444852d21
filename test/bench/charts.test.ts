// The bench's SVG charts: well-formed markup, one chart per scenario, every server of the run
// named with its numbers, in a fixed order.
import t from 'tap'
import { chartSvg, scenarioCharts, type BenchRun } from '../../bench/charts.js'

const run: BenchRun = {
  machine: { cpus: 2, node: 'v26.12.1', date: '2026-12-08T01:00:00.000Z' },
  flags: { quick: true },
  closedSummary: [
    { scenario: '1000/100/100', server: 'service', deliveredPerSecond: 150000, deliveriesPerCpuSecond: 160000 },
    { scenario: '1000/100/100', server: 'raw-ws', deliveredPerSecond: 220000, deliveriesPerCpuSecond: 225000 },
    { scenario: '1000/100/100', server: 'fastify-ws', deliveredPerSecond: 210000, deliveriesPerCpuSecond: 214000 },
    { scenario: '1000/100/100', server: 'socket.io', deliveredPerSecond: 175000, deliveriesPerCpuSecond: 176000 },
    { scenario: '4000/200/100', server: 'service', deliveredPerSecond: 140000, deliveriesPerCpuSecond: 150000 },
    { scenario: '4000/200/100', server: 'raw-ws', deliveredPerSecond: 230000, deliveriesPerCpuSecond: 231000 }
  ],
  openSummary: [
    { scenario: '1000/100/100 @750/s', server: 'service', p50Ms: 1.25, p99Ms: 12.5 },
    { scenario: '1000/100/100 @750/s', server: 'raw-ws', p50Ms: 0.98, p99Ms: 5.1 }
  ]
}

/** Every tag closed in order: a small well-formedness check without an XML parser. */
function wellFormed (svg: string): boolean {
  const open: string[] = []
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (selfClosing === '/') continue
    if (closing === '/') {
      if (open.pop() !== name) return false
    } else {
      open.push(name!)
    }
  }
  return open.length === 0
}

t.test('one well-formed SVG per scenario, each server named with its numbers', async (t) => {
  const charts = scenarioCharts(run)
  t.same(charts.map((chart) => chart.scenario), ['1000/100/100', '4000/200/100'])
  const [first, second] = charts.map((chart) => chart.svg)
  for (const svg of [first!, second!]) {
    t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="760" height="\d+"/)
    t.ok(wellFormed(svg), 'tags balance')
    t.notMatch(svg, /NaN|undefined|Infinity/)
  }
  for (const label of ['raw ws', 'Fastify + @fastify/websocket', 'Socket.IO', 'the service']) t.match(first!, `>${label.replace('&', '&amp;')}<`, label)
  for (const value of ['150,000', '220,000', '210,000', '175,000', '160,000', '225,000', 'p50 1.25 ms', 'p99 12.5 ms', 'p99 5.10 ms']) t.match(first!, value)
  t.match(first!, /half the service's maximum, open loop at 750\/s/)
  t.match(first!, /--quick/)
  t.ok(first!.indexOf('>raw ws<') < first!.indexOf('>Fastify + @fastify/websocket<') && first!.indexOf('>Socket.IO<') < first!.indexOf('>the service<'), 'baselines first, the service last')
  t.notMatch(second!, /Delivery latency/, 'no open loop for that scenario: no latency panel')
})

t.test('text is escaped; a bar is as long as its share of the largest', async (t) => {
  const svg = chartSvg('a <b> & "c"', 'sub', [{ title: 'T', format: String, groups: [{ label: 'x<y', color: '#000', bars: [{ series: 's', value: 50 }] }, { label: 'z', color: '#000', bars: [{ series: 's', value: 100 }] }] }])
  t.ok(wellFormed(svg))
  t.match(svg, 'a &lt;b&gt; &amp; &quot;c&quot;')
  t.match(svg, '>x&lt;y<')
  const widths = [...svg.matchAll(/<rect x="210" y="\d+" width="([\d.]+)"/g)].map((match) => Number(match[1]))
  t.same(widths.length, 2)
  t.ok(Math.abs(widths[0]! * 2 - widths[1]!) < 0.2, `${widths.join(' and ')}: half and whole`)
})
