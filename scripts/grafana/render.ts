// A static page that draws the Grafana dashboard's panels the way Grafana lays them out (24
// columns, its dark theme), each panel's queries evaluated over recorded scrapes of GET /metrics
// (promql.ts). Plain HTML and SVG, no script: Chromium only has to paint it.
import { evaluate, parse, substitute, type Labels, type Scrape } from './promql.js'
import { panelsOf, type Dashboard, type Panel } from './dashboard.js'

const WIDTH = 1600
const ROW_HEIGHT = 30
const GAP = 8
const COLORS = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#705da0', '#37872d', '#fade2a']

interface Series { name: string, points: Array<[number, number]> }

export interface RenderOptions {
  /** What $__rate_interval stands for, in seconds (Grafana: four scrape intervals at least). */
  rateIntervalSeconds: number
  /** A line under the title saying where the data came from. */
  source: string
}

const escape = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)

function legend (format: string | undefined, labels: Labels): string {
  if (format === undefined || format === '') return Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ') || 'value'
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label: string) => labels[label] ?? '').trim()
}

/** Each target's series over the scrapes, as the panel's queries return them. */
function seriesOf (panel: Panel, scrapes: Scrape[], options: RenderOptions): Series[] {
  const range = scrapes.at(-1)!.time - scrapes[0]!.time
  const all = new Map<string, Series>()
  for (const target of panel.targets ?? []) {
    const expr = parse(substitute(target.expr, { rateIntervalSeconds: options.rateIntervalSeconds, rangeSeconds: range + 1 }))
    scrapes.forEach((scrape, at) => {
      for (const point of evaluate(expr, scrapes, at)) {
        if (!Number.isFinite(point.value)) continue
        const name = legend(target.legendFormat, point.labels)
        const series = all.get(name) ?? { name, points: [] }
        series.points.push([scrape.time, point.value])
        all.set(name, series)
      }
    })
  }
  return [...all.values()]
}

/** A value in the panel's unit, as Grafana would print it. */
export function formatValue (value: number, unit: string | undefined, decimals?: number): string {
  const fixed = (n: number, d = 1): string => {
    const text = n.toFixed(decimals ?? (Math.abs(n) >= 100 || Number.isInteger(n) ? 0 : d))
    return text.includes('.') ? text.replace(/\.?0+$/, '') : text
  }
  const scaled = (n: number, steps: Array<[number, string]>): string => {
    for (const [size, suffix] of steps) if (Math.abs(n) >= size) return `${fixed(n / size)}${suffix}`
    return fixed(n)
  }
  switch (unit) {
    case 'percentunit': return `${fixed(value * 100)}%`
    case 'bytes': return scaled(value, [[2 ** 30, ' GiB'], [2 ** 20, ' MiB'], [2 ** 10, ' KiB']]) + (Math.abs(value) < 1024 ? ' B' : '')
    case 's':
      if (value === 0) return '0 s'
      if (Math.abs(value) >= 1) return `${fixed(value, 2)} s`
      if (Math.abs(value) >= 0.001) return `${fixed(value * 1000)} ms`
      return `${fixed(value * 1e6)} µs`
    default: return scaled(value, [[1e9, ' B'], [1e6, ' M'], [1e3, ' K']])
  }
}

function niceStep (span: number, ticks: number): number {
  const raw = span / ticks
  const power = 10 ** Math.floor(Math.log10(raw))
  return ([1, 2, 2.5, 5, 10].map((m) => m * power).find((step) => step >= raw)) ?? raw
}

const clock = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(11, 19)

function timeseriesSvg (series: Series[], panel: Panel, width: number, height: number, times: [number, number]): string {
  const unit = panel.fieldConfig?.defaults?.unit
  const left = 64
  const right = 12
  const top = 8
  const bottom = 22
  const values = series.flatMap((s) => s.points.map(([, v]) => v))
  let max = Math.max(0, ...values)
  if (max === 0) max = unit === 'percentunit' ? 0.01 : 1
  // Bytes step in powers of two of their unit (64 MiB, not 47.7 MiB); the rest in 1, 2, 2.5, 5 x 10^n.
  const byteUnit = unit === 'bytes' ? 2 ** (10 * Math.max(0, Math.floor(Math.log2(max) / 10))) : 1
  const step = unit === 'bytes' ? byteUnit * 2 ** Math.ceil(Math.log2(max / byteUnit / 4)) : niceStep(max, 4)
  max = Math.ceil(max / step) * step
  const x = (time: number): number => left + ((time - times[0]) / Math.max(1, times[1] - times[0])) * (width - left - right)
  const y = (value: number): number => top + (1 - value / max) * (height - top - bottom)
  const parts: string[] = []
  for (let tick = 0; tick <= max + step / 2; tick += step) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#2c3235"/>`)
    parts.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${escape(formatValue(tick, unit))}</text>`)
  }
  const timeStep = niceStep(times[1] - times[0], 6)
  for (let time = Math.ceil(times[0] / timeStep) * timeStep; time <= times[1]; time += timeStep) {
    parts.push(`<line x1="${x(time).toFixed(1)}" x2="${x(time).toFixed(1)}" y1="${top}" y2="${height - bottom}" stroke="#2c3235"/>`)
    parts.push(`<text x="${x(time).toFixed(1)}" y="${height - 6}" text-anchor="middle">${clock(time)}</text>`)
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!
    const path = s.points.map(([time, value], j) => `${j === 0 ? 'M' : 'L'}${x(time).toFixed(1)},${y(value).toFixed(1)}`).join('')
    if (s.points.length > 1) {
      const area = `${path}L${x(s.points.at(-1)![0]).toFixed(1)},${y(0).toFixed(1)}L${x(s.points[0]![0]).toFixed(1)},${y(0).toFixed(1)}Z`
      parts.push(`<path d="${area}" fill="${color}" fill-opacity="0.1"/>`)
    }
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`)
  })
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`
}

function statColor (panel: Panel, value: number): string {
  const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [{ color: 'green', value: null }]
  let color = steps[0]!.color
  for (const step of steps) if (step.value === null || value >= step.value) color = step.color
  return ({ green: '#37872d', red: '#c4162a', yellow: '#cc9d00' } as Record<string, string>)[color] ?? color
}

function statHtml (series: Series[], panel: Panel, width: number, height: number): string {
  if (series.length === 0) return '<div class="empty">No data</div>'
  const mappings = panel.fieldConfig?.defaults?.mappings ?? []
  const shown = (value: number): string => {
    for (const mapping of mappings) {
      const text = mapping.type === 'value' ? mapping.options[String(value)]?.text : undefined
      if (text !== undefined) return text
    }
    return formatValue(value, panel.fieldConfig?.defaults?.unit, panel.fieldConfig?.defaults?.decimals)
  }
  const each = Math.floor((height - 4) / series.length)
  return series.map((s) => {
    const last = s.points.at(-1)![1]
    const values = s.points.map(([, v]) => v)
    const max = Math.max(1, ...values)
    const min = Math.min(0, ...values)
    const times = s.points.map(([t]) => t)
    const sx = (t: number): number => ((t - times[0]!) / Math.max(1, times.at(-1)! - times[0]!)) * width
    const sy = (v: number): number => each - 4 - ((v - min) / (max - min)) * (each * 0.4)
    const line = s.points.map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join('')
    const area = `${line}L${width},${each}L0,${each}Z`
    return `<div class="stat" style="background:${statColor(panel, last)};height:${each - 4}px">
      <svg class="spark" width="${width}" height="${each}" viewBox="0 0 ${width} ${each}"><path d="${area}" fill="#ffffff" fill-opacity="0.15"/><path d="${line}" fill="none" stroke="#ffffff" stroke-opacity="0.5"/></svg>
      <div class="stat-name">${escape(s.name)}</div><div class="stat-value">${escape(shown(last))}</div></div>`
  }).join('')
}

function legendHtml (series: Series[], panel: Panel): string {
  const unit = panel.fieldConfig?.defaults?.unit
  return `<div class="legend">${series.map((s, i) => {
    const last = s.points.at(-1)?.[1]
    return `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${escape(s.name)}${last === undefined ? '' : ` <b>${escape(formatValue(last, unit))}</b>`}</span>`
  }).join('')}</div>`
}

/** The whole page: the dashboard's title, its variables, then every panel where Grafana puts it. */
export function renderDashboard (dashboard: Dashboard, scrapes: Scrape[], options: RenderOptions): string {
  const column = (WIDTH - GAP) / 24
  const times: [number, number] = [scrapes[0]!.time, scrapes.at(-1)!.time]
  const boxes: string[] = []
  let bottom = 0
  const rows = dashboard.panels.filter((panel) => panel.type === 'row')
  for (const panel of [...rows, ...panelsOf(dashboard)]) {
    const left = GAP + panel.gridPos.x * column
    const top = panel.gridPos.y * (ROW_HEIGHT + GAP)
    const width = panel.gridPos.w * column - GAP
    const height = panel.gridPos.h * (ROW_HEIGHT + GAP) - GAP
    bottom = Math.max(bottom, top + height)
    if (panel.type === 'row') {
      boxes.push(`<div class="row" style="left:${left}px;top:${top}px;width:${width}px">${escape(panel.title)}</div>`)
      continue
    }
    const series = seriesOf(panel, scrapes, options)
    const inner = height - 34
    const body = panel.type === 'stat'
      ? statHtml(series, panel, width - 16, inner)
      : series.length === 0
        ? '<div class="empty">No data</div>'
        : timeseriesSvg(series, panel, width - 16, inner - 24, times) + legendHtml(series, panel)
    boxes.push(`<div class="panel" style="left:${left}px;top:${top}px;width:${width}px;height:${height}px"><div class="title">${escape(panel.title)}</div><div class="body">${body}</div></div>`)
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(dashboard.title)}</title><style>
  body { margin: 0; background: #111217; color: #ccccdc; font: 12px Inter, "Helvetica Neue", Arial, sans-serif; width: ${WIDTH}px; }
  header { padding: 12px ${GAP}px 8px; }
  header h1 { font-size: 18px; font-weight: 500; margin: 0 0 8px; color: #d8d9da; }
  header .vars span { display: inline-block; background: #181b1f; border: 1px solid #2c3235; padding: 4px 8px; margin-right: 8px; }
  header .vars b { color: #8e8e8e; font-weight: normal; margin-right: 6px; }
  header .source { color: #8e8e8e; margin-top: 8px; }
  main { position: relative; height: ${bottom + GAP}px; }
  .row { position: absolute; font-size: 14px; font-weight: 500; color: #d8d9da; line-height: ${ROW_HEIGHT}px; }
  .panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; box-sizing: border-box; overflow: hidden; }
  .title { height: 26px; line-height: 26px; padding: 0 8px; font-weight: 500; color: #d8d9da; }
  .body { padding: 0 8px; }
  svg text { fill: #8e8e8e; font-size: 10px; }
  .legend { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 11px; margin-top: 2px; }
  .legend i { display: inline-block; width: 12px; height: 3px; margin: 0 5px 3px 0; vertical-align: middle; }
  .legend b { color: #d8d9da; font-weight: 500; }
  .stat { position: relative; margin-bottom: 4px; border-radius: 2px; overflow: hidden; color: #fff; }
  .stat .spark { position: absolute; left: 0; bottom: 0; }
  .stat-name { position: relative; padding: 8px 10px 0; font-size: 13px; }
  .stat-value { position: relative; padding: 0 10px; font-size: 40px; font-weight: 500; }
  .empty { color: #8e8e8e; text-align: center; padding-top: 60px; }
  </style></head><body><header><h1>${escape(dashboard.title)}</h1>
  <div class="vars"><span><b>Data source</b>Prometheus</span><span><b>Instance</b>All</span><span><b>Time</b>${clock(times[0])} to ${clock(times[1])} UTC</span></div>
  <div class="source">${escape(options.source)}</div></header>
  <main>${boxes.join('')}</main></body></html>`
}
