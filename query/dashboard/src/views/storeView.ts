import type { StoreDaily } from '../api.ts'
import { barList } from '../charts/barList.ts'
import { formatNumber } from '../charts/formats.ts'
import { timeChart } from '../charts/timeChart.ts'
import { h, notice, replaceChildren } from '../dom.ts'
import { DAY_MS, type TimeRange } from '../timeRange.ts'
import type { ViewDefinition } from './view.ts'

/** Every UTC day a range touches, in epoch seconds. */
export function daySlots(range: TimeRange): number[] {
  const days: number[] = []
  for (let t = Math.floor(range.from / DAY_MS) * DAY_MS; t < range.to; t += DAY_MS) days.push(t / 1000)
  return days
}

function perType(
  range: TimeRange,
  daily: StoreDaily,
  value: (row: StoreDaily['days'][number]) => number | null,
) {
  const x = daySlots(range)
  const index = new Map(x.map((s, i) => [s, i]))
  const types = [...new Set(daily.days.map((d) => d.type))].sort()
  const series = new Map(types.map((type) => [type, new Array<number | null>(x.length).fill(null)]))
  for (const row of daily.days) {
    const i = index.get(Date.parse(`${row.date}T00:00:00Z`) / 1000)
    if (i !== undefined) series.get(row.type)![i] = value(row)
  }
  return { x, y: types.map((t) => series.get(t)!), labels: types }
}

/** A store's statistics (seed 001): events and average durations per UTC day and type. */
export const storeView: ViewDefinition = {
  id: 'store',
  label: 'Store statistics',
  kinds: ['store'],
  live: true,
  mount(container, { api, source, range, zone }) {
    const amounts = timeChart({
      title: 'Events per UTC day by type',
      unit: 'events',
      series: [{ label: 'type' }],
      daily: true,
    })
    const durations = timeChart({
      title: 'Average duration per UTC day by type (seconds)',
      unit: 'seconds',
      series: [{ label: 'type' }],
      daily: true,
    })
    const totals = barList('Events by type in the range', {
      value: 'events',
      extra: ['average duration (s)'],
    })
    const status = h('div', {})
    replaceChildren(
      container,
      h('h2', {}, 'Store statistics'),
      h('p', { class: 'hint' }, 'Days are UTC days, as the store statistics API counts them.'),
      status,
      h('div', { class: 'grid-2' }, amounts.element, durations.element),
      totals.element,
    )
    return {
      async refresh() {
        const r = range()
        const daily = await api.storeDaily(source.id, { from: r.from, to: r.to })
        const z = zone()
        const amountSeries = perType(r, daily, (d) => d.events)
        // A day without events of a type had none: 0, not a gap.
        amounts.update({ ...amountSeries, y: amountSeries.y.map((ys) => ys.map((v) => v ?? 0)) }, z)
        durations.update(
          perType(r, daily, (d) => d.averageDuration),
          z,
        )
        const byType = new Map<string, { events: number; weighted: number; counted: number }>()
        for (const d of daily.days) {
          const t = byType.get(d.type) ?? { events: 0, weighted: 0, counted: 0 }
          t.events += d.events
          if (d.averageDuration !== null) {
            t.weighted += d.averageDuration * d.timedEvents
            t.counted += d.timedEvents
          }
          byType.set(d.type, t)
        }
        totals.update(
          [...byType.entries()]
            .sort((a, b) => b[1].events - a[1].events)
            .map(([type, t]) => ({
              label: type,
              value: t.events,
              extra: [t.counted > 0 ? formatNumber(t.weighted / t.counted) : '–'],
            })),
        )
        replaceChildren(status, daily.days.length === 0 ? notice('No store events in this range yet.') : null)
      },
      destroy() {
        amounts.destroy()
        durations.destroy()
      },
    }
  },
}
