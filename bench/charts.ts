// SVG charts of a bench run, drawn from its JSON (bench-results/bench-<time>.json): one per
// scenario, with the closed loop's deliveries/s and deliveries per CPU-second and the open loop's
// p50/p99 at half the service's maximum, for every server of the run. Plain SVG, no library.
//   node dist/bench/charts.js bench-results/bench-<time>.json [out-dir]   draws them again
import { readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

export interface Bar { series: string, value: number }
export interface BarGroup { label: string, color: string, bars: Bar[] }
export interface ChartPanel { title: string, format: (value: number) => string, groups: BarGroup[] }

/** The parts of a run's JSON the charts read. */
export interface BenchRun {
  machine: { cpus: number, model?: string, node: string, date: string }
  flags: { quick?: boolean }
  closedSummary: Array<{ scenario: string, server: string, deliveredPerSecond: number, deliveriesPerCpuSecond: number }>
  openSummary: Array<{ scenario: string, server: string, p50Ms: number, p99Ms: number }>
}

/** Servers in the order they are drawn, with their names and colours: the service stands out. */
const SERVERS: Record<string, { label: string, color: string }> = {
  'raw-ws': { label: 'raw ws', color: '#7f7f7f' },
  'fastify-ws': { label: 'Fastify + @fastify/websocket', color: '#4c78a8' },
  'socket.io': { label: 'Socket.IO', color: '#54a24b' },
  service: { label: 'the service', color: '#e45756' }
}

const WIDTH = 760
const LABEL_WIDTH = 210
const BAR_HEIGHT = 16
const BAR_GAP = 4
const GROUP_GAP = 10
const PANEL_TITLE = 26

const escape = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
const integer = (value: number): string => Math.round(value).toLocaleString('en-US')
const milliseconds = (value: number): string => `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`

/** Horizontal bar charts, one panel under the other, each bar labelled with its value. */
export function chartSvg (title: string, subtitle: string, panels: ChartPanel[]): string {
  const parts: string[] = []
  let y = 52
  for (const panel of panels) {
    const max = Math.max(...panel.groups.flatMap((group) => group.bars.map((bar) => bar.value)), 0)
    const scale = (value: number): number => max <= 0 ? 0 : (value / max) * (WIDTH - LABEL_WIDTH - 110)
    parts.push(`<text x="12" y="${y + 16}" class="panel">${escape(panel.title)}</text>`)
    y += PANEL_TITLE
    for (const group of panel.groups) {
      const height = group.bars.length * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
      parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + height / 2 + 4}" text-anchor="end">${escape(group.label)}</text>`)
      group.bars.forEach((bar, i) => {
        const top = y + i * (BAR_HEIGHT + BAR_GAP)
        const width = scale(bar.value)
        const opacity = group.bars.length > 1 && i === 0 ? ' fill-opacity="0.55"' : ''
        const name = group.bars.length > 1 ? `${bar.series} ` : ''
        parts.push(`<rect x="${LABEL_WIDTH}" y="${top}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${group.color}"${opacity}><title>${escape(`${group.label}: ${name}${panel.format(bar.value)}`)}</title></rect>`)
        parts.push(`<text x="${(LABEL_WIDTH + width + 6).toFixed(1)}" y="${top + BAR_HEIGHT - 4}" class="value">${escape(`${name}${panel.format(bar.value)}`)}</text>`)
      })
      y += height + GROUP_GAP
    }
    y += 12
  }
  const height = y + 8
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">
<title>${escape(title)}</title>
<style>text { fill: #222; } .title { font-size: 16px; font-weight: bold; } .subtitle { fill: #666; } .panel { font-size: 13px; font-weight: bold; } .value { fill: #444; font-size: 11px; }</style>
<rect width="${WIDTH}" height="${height}" fill="#fff"/>
<text x="12" y="22" class="title">${escape(title)}</text>
<text x="12" y="40" class="subtitle">${escape(subtitle)}</text>
${parts.join('\n')}
</svg>
`
}

/** One chart per scenario of the run's closed loop, with its open loop's latencies where it ran. */
export function scenarioCharts (run: BenchRun): Array<{ scenario: string, svg: string }> {
  const scenarios = [...new Set(run.closedSummary.map((row) => row.scenario))]
  const known = (server: string) => SERVERS[server] ?? { label: server, color: '#999' }
  const order = (server: string): number => {
    const index = Object.keys(SERVERS).indexOf(server)
    return index === -1 ? Object.keys(SERVERS).length : index
  }
  const when = `${run.machine.date.slice(0, 10)}, Node ${run.machine.node}, ${run.machine.cpus} CPUs${run.flags.quick === true ? ', --quick (1 round of 2 s)' : ''}`
  return scenarios.map((scenario) => {
    const closed = run.closedSummary.filter((row) => row.scenario === scenario).sort((a, b) => order(a.server) - order(b.server))
    const open = run.openSummary.filter((row) => row.scenario.startsWith(`${scenario} @`)).sort((a, b) => order(a.server) - order(b.server))
    const [subscribers, channels, publishers] = scenario.split('/')
    const panels: ChartPanel[] = [
      {
        title: 'Deliveries per second, closed loop (more is better)',
        format: integer,
        groups: closed.map((row) => ({ ...known(row.server), bars: [{ series: 'deliveries/s', value: row.deliveredPerSecond }] }))
      },
      {
        title: 'Deliveries per CPU-second of the server (more is better)',
        format: integer,
        groups: closed.map((row) => ({ ...known(row.server), bars: [{ series: 'deliveries/CPU-s', value: row.deliveriesPerCpuSecond }] }))
      }
    ]
    if (open.length > 0) {
      panels.push({
        title: `Delivery latency at half the service's maximum, open loop at ${open[0]!.scenario.split('@')[1]} (less is better)`,
        format: milliseconds,
        groups: open.map((row) => ({ ...known(row.server), bars: [{ series: 'p50', value: row.p50Ms }, { series: 'p99', value: row.p99Ms }] }))
      })
    }
    return {
      scenario,
      svg: chartSvg(`${subscribers} subscribers, ${channels} channels, ${publishers} publishers`, `npm run bench, ${when}; medians of the run's rounds`, panels)
    }
  })
}

/** Writes the charts beside the run's JSON (or into `directory`): <json name>-<scenario>.svg. */
export function writeCharts (run: BenchRun, jsonFile: string, directory = dirname(jsonFile)): string[] {
  return scenarioCharts(run).map(({ scenario, svg }) => {
    const file = join(directory, `${basename(jsonFile, '.json')}-${scenario.replace(/\//g, '-')}.svg`)
    writeFileSync(file, svg)
    return file
  })
}

if (process.argv[1] !== undefined && basename(process.argv[1]) === 'charts.js') {
  const [jsonFile, directory] = process.argv.slice(2)
  if (jsonFile === undefined) throw new Error('usage: node dist/bench/charts.js bench-results/bench-<time>.json [out-dir]')
  for (const file of writeCharts(JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchRun, jsonFile, directory)) console.log(file)
}
