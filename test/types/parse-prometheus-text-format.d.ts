declare module 'parse-prometheus-text-format' {
  interface Sample {
    value?: string
    labels?: Record<string, string>
    buckets?: Record<string, string>
    count?: string
    sum?: string
  }
  /** Metric families of a Prometheus text exposition, as the Go parser reads them. */
  export default function parsePrometheusTextFormat (text: string): Array<{ name: string, help: string, type: string, metrics: Sample[] }>
}
