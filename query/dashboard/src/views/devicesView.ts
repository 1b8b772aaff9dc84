import type { DeviceSeries } from '../api.ts'
import { formatNumber } from '../charts/formats.ts'
import { timeChart } from '../charts/timeChart.ts'
import { field, h, notice, replaceChildren, select } from '../dom.ts'
import { DAY_MS, HOUR_MS, type TimeRange } from '../timeRange.ts'
import { kpis } from './kpis.ts'
import type { ViewDefinition } from './view.ts'

const ALL_DEVICES = ''

/** Hours per point: up to a week hourly (≤ 192 points), a month in 6-hour steps (~124), then days. */
export const bucketHoursFor = (range: TimeRange) => {
  const span = range.to - range.from
  if (span <= 8 * DAY_MS) return 1
  if (span <= 31 * DAY_MS) return 6
  return 24
}

/** Device readings (seed 004): a metric's min–max band, mean, median and p95 over time. */
export const devicesView: ViewDefinition = {
  id: 'devices',
  label: 'Device metrics',
  kinds: ['device'],
  live: true,
  mount(container, { api, source, range, zone, requestRefresh }) {
    const metric = select([], '', { name: 'metric' })
    const device = select([{ value: ALL_DEVICES, label: 'All devices' }], ALL_DEVICES, { name: 'device' })
    const controls = h('div', { class: 'filters' }, field('Metric', metric), field('Device', device))
    const figures = kpis([
      { key: 'count', label: 'Readings' },
      { key: 'min', label: 'Minimum' },
      { key: 'mean', label: 'Mean' },
      { key: 'max', label: 'Maximum' },
    ])
    const chart = timeChart({
      title: 'Metric over time: min–max band, mean, median and p95',
      unit: 'value',
      series: [
        { label: 'mean', color: '#2563eb', width: 2 },
        { label: 'min', color: '#93c5fd', width: 1 },
        { label: 'max', color: '#93c5fd', width: 1 },
        { label: 'median', color: '#16a34a', width: 1.5, dash: [6, 4] },
        { label: 'p95', color: '#dc2626', width: 1.5, dash: [2, 3] },
      ],
      bands: [[3, 2]],
      pointName: 'points',
      height: 320,
    })
    const status = h('div', {})
    replaceChildren(
      container,
      h('h2', {}, 'Device metrics'),
      controls,
      status,
      figures.element,
      chart.element,
    )

    const setOptions = (element: HTMLSelectElement, options: { value: string; label: string }[]) => {
      const current = element.value
      const signature = options.map((o) => o.value).join('\u0000')
      if (element.dataset.options !== signature) {
        element.replaceChildren(...options.map((o) => h('option', { value: o.value }, o.label)))
        element.dataset.options = signature
      }
      element.value = options.some((o) => o.value === current) ? current : (options[0]?.value ?? '')
    }

    const refresh = async () => {
      const r = range()
      const bucket = bucketHoursFor(r)
      const series: DeviceSeries = await api.deviceSeries(source.id, {
        from: r.from,
        to: r.to,
        bucket,
        metric: metric.value || undefined,
        device: device.value || undefined,
      })
      setOptions(
        metric,
        series.metrics.map((m) => ({ value: m, label: m })),
      )
      setOptions(device, [
        { value: ALL_DEVICES, label: 'All devices' },
        ...series.devices.map((d) => ({ value: d, label: d })),
      ])
      const step = bucket * HOUR_MS
      const x: number[] = []
      for (let t = Math.floor(r.from / step) * step; t < r.to; t += step) x.push(t / 1000)
      const index = new Map(x.map((s, i) => [s, i]))
      const columns = [0, 1, 2, 3, 4].map(() => new Array<number | null>(x.length).fill(null))
      let count = 0
      let min = Number.POSITIVE_INFINITY
      let max = Number.NEGATIVE_INFINITY
      let sum = 0
      for (const p of series.points) {
        const i = index.get(Date.parse(p.time) / 1000)
        if (i === undefined) continue
        const values = [p.mean, p.min, p.max, p.median, p.p95]
        values.forEach((v, s) => {
          columns[s]![i] = v
        })
        count += p.count
        sum += p.mean * p.count
        min = Math.min(min, p.min)
        max = Math.max(max, p.max)
      }
      chart.update({ x, y: columns }, zone())
      figures.set('count', formatNumber(count), `${bucket} h per point`)
      figures.set('min', count ? formatNumber(min) : '–')
      figures.set('mean', count ? formatNumber(sum / count) : '–')
      figures.set('max', count ? formatNumber(max) : '–')
      replaceChildren(
        status,
        series.metrics.length === 0 ? notice('No readings from this fleet yet.') : null,
        series.metrics.length > 0 && count === 0 ? notice('No readings of this metric in this range.') : null,
      )
    }
    metric.addEventListener('change', requestRefresh)
    device.addEventListener('change', requestRefresh)
    return { refresh, destroy: () => chart.destroy() }
  },
}
