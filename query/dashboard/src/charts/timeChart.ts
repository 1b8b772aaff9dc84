import uPlot from 'uplot'
import { h, replaceChildren, uniqueId } from '../dom.ts'
import { formatDateTime } from '../timeRange.ts'
import { dataTable } from './dataTable.ts'
import { colorAt, formatCompact, formatNumber } from './formats.ts'

export interface SeriesSpec {
  readonly label: string
  readonly color?: string
  /** Fill the area under the line. */
  readonly area?: boolean
  readonly dash?: number[]
  readonly width?: number
}

export interface TimeChartSpec {
  readonly title: string
  /** What the y values are, for the axis and the spoken summary ("events", "seconds"). */
  readonly unit: string
  readonly series: readonly SeriesSpec[]
  /** Pairs of series indexes (1-based, as uPlot counts) whose gap is filled: a min–max band. */
  readonly bands?: readonly (readonly [upper: number, lower: number])[]
  readonly format?: (value: number) => string
  /** Points are days, not hours (axis and table show dates). */
  readonly daily?: boolean
  /** What one point is, in the spoken summary (default: hours, or days when daily). */
  readonly pointName?: string
  readonly height?: number
}

export interface ChartData {
  /** Epoch seconds. */
  readonly x: readonly number[]
  /** One array per series, aligned with x; null for no value. */
  readonly y: readonly (readonly (number | null)[])[]
  /** Labels when the series change with the data (top names, say). */
  readonly labels?: readonly string[]
}

export interface TimeChart {
  readonly element: HTMLElement
  update(data: ChartData, zone: string): void
  destroy(): void
}

/**
 * A uPlot time chart in a figure with a caption, a spoken summary and its data as a table
 * (built only when opened: a month of hours in 20 series is 15,000 cells). `data-points` and
 * `data-total` on the figure say what it shows, for tests and for people reading the DOM.
 */
export function timeChart(spec: TimeChartSpec): TimeChart {
  const captionId = uniqueId('chart')
  const summaryId = uniqueId('chart-summary')
  const plot = h('div', {
    class: 'chart-plot',
    role: 'img',
    'aria-labelledby': captionId,
    'aria-describedby': summaryId,
  })
  const summary = h('p', { class: 'chart-summary', id: summaryId })
  const tableHolder = h('div', {})
  const details = h(
    'details',
    { class: 'chart-data' },
    h('summary', {}, 'Show the data as a table'),
    tableHolder,
  )
  const element = h(
    'figure',
    { class: 'chart' },
    h('figcaption', { id: captionId }, spec.title),
    summary,
    plot,
    details,
  )
  const format = spec.format ?? formatNumber
  let chart: uPlot | null = null
  let chartZone = ''
  let chartLabels = ''
  let last: { data: ChartData; zone: string } | null = null

  const labelsOf = (data: ChartData) => data.labels ?? spec.series.map((s) => s.label)

  const renderTable = () => {
    if (!details.open || !last) return
    const { data, zone } = last
    const labels = labelsOf(data)
    const rows = data.x.map((_, i) => i)
    replaceChildren(
      tableHolder,
      dataTable(
        `${spec.title} (${zone})`,
        [
          {
            label: spec.daily ? 'Day' : 'Hour',
            value: (i: number) =>
              spec.daily
                ? new Date(data.x[i]! * 1000).toISOString().slice(0, 10)
                : formatDateTime(data.x[i]! * 1000, zone),
          },
          ...labels.map((label, s) => ({
            label,
            numeric: true,
            value: (i: number) => {
              const v = data.y[s]?.[i]
              return v === null || v === undefined ? null : format(v)
            },
          })),
        ],
        rows,
      ),
    )
  }
  details.addEventListener('toggle', renderTable)

  const build = (data: ChartData, zone: string) => {
    chart?.destroy()
    const labels = labelsOf(data)
    const width = Math.max(280, plot.clientWidth || element.clientWidth || 600)
    const options: uPlot.Options = {
      width,
      height: spec.height ?? 260,
      tzDate: spec.daily
        ? (ts) => uPlot.tzDate(new Date(ts * 1000), 'UTC')
        : (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
      scales: { x: { time: true } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: spec.daily ? 'Day' : 'Time' },
        ...labels.map((label, i) => {
          const s = spec.series[i] ?? spec.series[spec.series.length - 1] ?? { label }
          const color = s.color ?? colorAt(i)
          return {
            label,
            stroke: color,
            width: s.width ?? 1.5,
            ...(s.area ? { fill: `${color}22` } : {}),
            ...(s.dash ? { dash: s.dash } : {}),
            spanGaps: false,
            points: { show: data.x.length <= 60 },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : format(v)),
          } satisfies uPlot.Series
        }),
      ],
      axes: [{}, { label: spec.unit, size: 60, values: (_u, splits) => splits.map((v) => formatCompact(v)) }],
      ...(spec.bands
        ? { bands: spec.bands.map(([upper, lower]) => ({ series: [upper, lower], fill: '#2563eb18' })) }
        : {}),
    }
    chart = new uPlot(options, toAligned(data), plot)
    chartZone = zone
    chartLabels = labels.join('\u0000')
  }

  const resized = new ResizeObserver(() => {
    if (chart && plot.clientWidth > 0 && Math.abs(chart.width - plot.clientWidth) > 2)
      chart.setSize({ width: plot.clientWidth, height: spec.height ?? 260 })
  })
  resized.observe(plot)

  return {
    element,
    update(data, zone) {
      last = { data, zone }
      const labels = labelsOf(data)
      if (!chart || chartZone !== zone || chartLabels !== labels.join('\u0000')) build(data, zone)
      else chart.setData(toAligned(data))
      const first = data.y[0] ?? []
      const values = first.filter((v): v is number => v !== null)
      const total = values.reduce((a, b) => a + b, 0)
      element.dataset.points = String(values.length)
      element.dataset.total = String(total)
      summary.textContent = describe(spec, data, labels, zone, format)
      renderTable()
    },
    destroy() {
      resized.disconnect()
      chart?.destroy()
      chart = null
    },
  }
}

const toAligned = (data: ChartData): uPlot.AlignedData => [
  data.x as number[],
  ...data.y.map((series) => series as (number | null)[]),
]

/** One sentence a screen reader can say instead of the picture. */
function describe(
  spec: TimeChartSpec,
  data: ChartData,
  labels: readonly string[],
  zone: string,
  format: (v: number) => string,
) {
  if (data.x.length === 0) return 'No data in this range.'
  const when = (s: number) =>
    spec.daily ? new Date(s * 1000).toISOString().slice(0, 10) : formatDateTime(s * 1000, zone)
  const first = data.y[0] ?? []
  let peak = -Infinity
  let peakAt = 0
  first.forEach((v, i) => {
    if (v !== null && v > peak) {
      peak = v
      peakAt = data.x[i]!
    }
  })
  const span = `${data.x.length} ${spec.pointName ?? (spec.daily ? 'days' : 'hours')} from ${when(data.x[0]!)} to ${when(data.x[data.x.length - 1]!)}`
  const series = labels.length > 1 ? `, ${labels.length} series` : ''
  return peak === -Infinity
    ? `${span}${series}: no values.`
    : `${span}${series}. ${labels[0]}: highest ${format(peak)} ${spec.unit} at ${when(peakAt)}.`
}
