// Medians and plain-text tables for the benchmarks' output.

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

/** Prints rows as an aligned table under a title. */
export function table (title: string, rows: Array<Record<string, unknown>>): void {
  console.log(`\n${title}`)
  if (rows.length === 0) return
  const columns = Object.keys(rows[0]!)
  const cell = (value: unknown) => typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : String(value ?? '')
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)))
  console.log(columns.map((column, i) => column.padEnd(widths[i]!)).join('  '))
  for (const row of rows) console.log(columns.map((column, i) => cell(row[column]).padEnd(widths[i]!)).join('  '))
}
