import type { Overview, SourceKind } from '../api.ts'
import { barList } from '../charts/barList.ts'
import { formatNumber } from '../charts/formats.ts'
import { timeChart } from '../charts/timeChart.ts'
import { h, notice, replaceChildren } from '../dom.ts'
import { formatAge, formatDateTime, hourSlots, type TimeRange } from '../timeRange.ts'
import { kpis } from './kpis.ts'
import type { ViewDefinition } from './view.ts'

/** What the records and "users" of each kind of source are called. */
export const WORDS: Record<SourceKind, { records: string; users: string; names: string }> = {
  app: { records: 'events', users: 'distinct users', names: 'event names' },
  site: { records: 'events', users: 'distinct users', names: 'event names' },
  store: { records: 'events', users: 'distinct people', names: 'event types' },
  place: { records: 'receipts and events', users: 'places with purchases', names: 'names' },
  device: { records: 'readings', users: 'reporting devices', names: 'metrics and events' },
}

/** Sparse hourly rows laid onto every hour of the range (an hour without rows counts 0). */
export function alignHours<T extends { hour: string }>(
  range: TimeRange,
  rows: readonly T[],
  value: (row: T) => number,
): { x: number[]; y: number[] } {
  const x = hourSlots(range)
  const index = new Map(x.map((s, i) => [s, i]))
  const y = new Array<number>(x.length).fill(0)
  for (const row of rows) {
    const i = index.get(Date.parse(row.hour) / 1000)
    if (i !== undefined) y[i]! += value(row)
  }
  return { x, y }
}

function byNameSeries(range: TimeRange, overview: Overview) {
  const x = hourSlots(range)
  const index = new Map(x.map((s, i) => [s, i]))
  const names = overview.names.map((n) => n.name)
  const series = new Map(names.map((name) => [name, new Array<number>(x.length).fill(0)]))
  for (const row of overview.byName) {
    const i = index.get(Date.parse(row.hour) / 1000)
    const values = series.get(row.name)
    if (i !== undefined && values) values[i]! += row.events
  }
  return { x, y: names.map((name) => series.get(name)!), labels: names }
}

export const overviewView: ViewDefinition = {
  id: 'overview',
  label: 'Overview',
  kinds: 'all',
  live: true,
  mount(container, { api, source, range, zone }) {
    const words = WORDS[source.kind]
    const figures = kpis([
      { key: 'records', label: `${words.records[0]!.toUpperCase()}${words.records.slice(1)} in range` },
      { key: 'peakUsers', label: `Peak ${words.users} in an hour` },
      { key: 'newest', label: 'Newest event' },
      { key: 'lag', label: 'Projection lag' },
    ])
    const events = timeChart({
      title: `${words.records[0]!.toUpperCase()}${words.records.slice(1)} per hour`,
      unit: words.records,
      series: [{ label: words.records, area: true, width: 2 }],
    })
    const users = timeChart({
      title: `${words.users[0]!.toUpperCase()}${words.users.slice(1)} per hour`,
      unit: words.users,
      series: [{ label: words.users, area: true, width: 2, color: '#16a34a' }],
    })
    const perName = timeChart({
      title: `${words.records[0]!.toUpperCase()}${words.records.slice(1)} per hour by name (top 20)`,
      unit: words.records,
      series: [{ label: 'name' }],
      height: 320,
    })
    const top = barList(`Top ${words.names}`, { value: words.records, extra: [words.users] })
    const status = h('div', {})
    replaceChildren(
      container,
      h('h2', {}, 'Overview'),
      status,
      figures.element,
      h('div', { class: 'grid-2' }, events.element, users.element),
      perName.element,
      top.element,
    )

    return {
      async refresh() {
        const r = range()
        const [overview, freshness] = await Promise.all([
          api.overview(source.id, { from: r.from, to: r.to }),
          api.freshness(source.id),
        ])
        const z = zone()
        const total = alignHours(r, overview.hours, (row) => row.events)
        const people = alignHours(r, overview.hours, (row) => row.users)
        events.update({ x: total.x, y: [total.y] }, z)
        users.update({ x: people.x, y: [people.y] }, z)
        perName.update(byNameSeries(r, overview), z)
        top.update(
          overview.names.map((n) => ({ label: n.name, value: n.events, extra: [formatNumber(n.users)] })),
        )
        figures.set('records', formatNumber(total.y.reduce((a, b) => a + b, 0)))
        figures.set('peakUsers', formatNumber(Math.max(0, ...people.y)))
        const now = Date.now()
        if (freshness.newestEventAt) {
          figures.set(
            'newest',
            formatAge(Date.parse(freshness.newestEventAt), now),
            formatDateTime(freshness.newestEventAt, z),
          )
        } else figures.set('newest', 'none yet', 'no event has been projected')
        figures.set(
          'lag',
          `${formatNumber(freshness.lag)} records`,
          freshness.lag === 0 ? 'every projection is caught up' : 'waiting to be applied',
        )
        replaceChildren(
          status,
          overview.hours.length === 0 ? notice(`No ${words.records} in this range yet.`) : null,
        )
      },
      destroy() {
        events.destroy()
        users.destroy()
        perName.destroy()
      },
    }
  },
}
