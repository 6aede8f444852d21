// Reading the Grafana dashboard (docs/grafana/chat-service.json): its panels, their queries, and
// the metrics those queries need, set against what a GET /metrics exports.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { metricNames, parse, substitute } from './promql.js'

/** The repository's root: the nearest folder up with a package.json (from the sources, or from dist/). */
function repositoryRoot (from: string): string {
  let folder = from
  while (!existsSync(join(folder, 'package.json'))) {
    if (dirname(folder) === folder) throw new Error(`no package.json above ${from}`)
    folder = dirname(folder)
  }
  return folder
}

export const ROOT = repositoryRoot(import.meta.dirname)
export const DASHBOARD_FILE = join(ROOT, 'docs', 'grafana', 'chat-service.json')

export interface Target { expr: string, legendFormat?: string, refId?: string, datasource?: { type?: string, uid?: string } }
export interface FieldConfig {
  defaults?: {
    unit?: string
    decimals?: number
    min?: number
    mappings?: Array<{ type: string, options: Record<string, { text: string }> }>
    thresholds?: { steps: Array<{ color: string, value: number | null }> }
  }
}
export interface Panel {
  id: number
  type: string
  title: string
  description?: string
  gridPos: { h: number, w: number, x: number, y: number }
  datasource?: { type?: string, uid?: string }
  targets?: Target[]
  fieldConfig?: FieldConfig
  /** A collapsed row keeps its panels here. */
  panels?: Panel[]
}
export interface TemplateVariable { name: string, type: string, query?: string | { query: string }, datasource?: { uid?: string } }
export interface Dashboard { title: string, uid: string, panels: Panel[], templating?: { list: TemplateVariable[] } }

/** The dashboard file, from the source tree (also when run from dist/). */
export function loadDashboard (file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard
}

/** Every panel, those inside collapsed rows included; rows themselves left out. */
export function panelsOf (dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== 'row')
}

/** Grafana's own variables as any time range would set them: enough to parse the queries. */
const ANY_RANGE = { rateIntervalSeconds: 60, rangeSeconds: 3600 }

/** The metrics each query of the dashboard needs: every panel's, and the template variables' (as "variable $name"). */
export function queriedMetrics (dashboard: Dashboard): Array<{ panel: string, metric: string }> {
  const queried: Array<{ panel: string, metric: string }> = []
  for (const panel of panelsOf(dashboard)) {
    for (const target of panel.targets ?? []) {
      for (const metric of metricNames(parse(substitute(target.expr, ANY_RANGE)))) queried.push({ panel: panel.title, metric })
    }
  }
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== 'query' || variable.query === undefined) continue
    const query = typeof variable.query === 'string' ? variable.query : variable.query.query
    const labelValues = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(query)
    const expr = labelValues === null ? query : labelValues[1]!
    for (const metric of metricNames(parse(substitute(expr, ANY_RANGE)))) queried.push({ panel: `variable $${variable.name}`, metric })
  }
  return queried
}

/** What a histogram or summary exports beside its name. */
const SERIES_SUFFIXES = ['_bucket', '_sum', '_count']

/**
 * The queried metrics that the exposition does not export. `exported` are the metric families
 * of a scrape, by name and type: a histogram `x` exports x_bucket, x_sum and x_count.
 */
export function missingMetrics (
  dashboard: Dashboard,
  exported: Array<{ name: string, type: string }>
): Array<{ panel: string, metric: string }> {
  const names = new Set<string>()
  for (const family of exported) {
    names.add(family.name)
    const type = family.type.toLowerCase()
    if (type === 'histogram') for (const suffix of SERIES_SUFFIXES) names.add(`${family.name}${suffix}`)
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${family.name}${suffix}`)
  }
  return queriedMetrics(dashboard).filter(({ metric }) => !names.has(metric))
}
