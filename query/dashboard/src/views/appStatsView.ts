import { ApiError, type EventDefinition, type UserStats } from '../api.ts'
import { barList } from '../charts/barList.ts'
import { dataTable } from '../charts/dataTable.ts'
import { formatNumber } from '../charts/formats.ts'
import { field, h, notice, replaceChildren, select } from '../dom.ts'
import type { ViewDefinition } from './view.ts'

/** Most users a page of the table shows. */
const USERS_PER_PAGE = 200
/** Most keys shown as columns (the rest sum into "other"). */
const KEY_COLUMNS = 8

/** Per-user attribute statistics of an app's defined event (seed 000): a table and bar charts. */
export const appStatsView: ViewDefinition = {
  id: 'user-stats',
  label: 'User statistics',
  kinds: ['app'],
  live: true,
  mount(container, { api, source, range, requestRefresh }) {
    const event = select([], '', { name: 'event' })
    const controls = h('div', { class: 'filters' }, field('Defined event', event))
    const status = h('div', {})
    const byKey = barList('Totals by key', { value: 'total', extra: ['users'] })
    const byUser = barList('Top users by total', { value: 'total' })
    const table = h('div', {})
    replaceChildren(
      container,
      h('h2', {}, 'User statistics'),
      h(
        'p',
        { class: 'hint' },
        "Per user: the event's first string attribute as the key, summing its first integer attribute (or counting events).",
      ),
      controls,
      status,
      h('div', { class: 'grid-2' }, byKey.element, byUser.element),
      table,
    )
    let definitions: readonly EventDefinition[] = []

    const show = (stats: UserStats) => {
      const keyTotals = new Map<string, { total: number; users: number }>()
      const userTotals = stats.users.map((u) => {
        let total = 0
        for (const [key, value] of Object.entries(u.values)) {
          total += value
          const k = keyTotals.get(key) ?? { total: 0, users: 0 }
          k.total += value
          k.users += 1
          keyTotals.set(key, k)
        }
        return { user: u.user, total, values: u.values }
      })
      const keys = [...keyTotals.entries()].sort((a, b) => b[1].total - a[1].total)
      byKey.update(
        keys.slice(0, 20).map(([key, k]) => ({ label: key, value: k.total, extra: [formatNumber(k.users)] })),
      )
      byUser.update(
        [...userTotals]
          .sort((a, b) => b.total - a.total)
          .slice(0, 20)
          .map((u) => ({ label: u.user, value: u.total })),
      )
      const shownKeys = keys.slice(0, KEY_COLUMNS).map(([key]) => key)
      const other = keys.length > KEY_COLUMNS
      type Row = (typeof userTotals)[number]
      replaceChildren(
        table,
        dataTable<Row>(
          `${stats.name}: ${formatNumber(stats.users.length)} user${stats.users.length === 1 ? '' : 's'}` +
            `${stats.nextCursor ? ' (first page)' : ''}; key ${stats.keyAttribute ?? 'event name'}, ` +
            `${stats.amountAttribute ? `sum of ${stats.amountAttribute}` : 'count of events'}`,
          [
            { label: 'User', value: (u) => u.user },
            ...shownKeys.map((key) => ({
              label: key,
              numeric: true,
              value: (u: Row) => formatNumber(u.values[key] ?? 0),
            })),
            ...(other
              ? [
                  {
                    label: 'other keys',
                    numeric: true,
                    value: (u: Row) =>
                      formatNumber(
                        Object.entries(u.values)
                          .filter(([key]) => !shownKeys.includes(key))
                          .reduce((a, [, v]) => a + v, 0),
                      ),
                  },
                ]
              : []),
            { label: 'Total', numeric: true, value: (u) => formatNumber(u.total) },
          ],
          userTotals.slice(0, USERS_PER_PAGE),
        ),
      )
    }

    const refresh = async () => {
      try {
        definitions = await api.eventDefinitions(source.id)
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error
        replaceChildren(status, notice('Event definitions are not available for this source.', 'error'))
        return
      }
      const current = event.value
      const signature = definitions.map((d) => d.eventCode).join('\u0000')
      if (event.dataset.options !== signature) {
        event.replaceChildren(...definitions.map((d) => h('option', { value: d.eventCode }, d.name)))
        event.dataset.options = signature
      }
      event.value = definitions.some((d) => d.eventCode === current)
        ? current
        : (definitions[0]?.eventCode ?? '')
      if (!event.value) {
        replaceChildren(
          status,
          notice(
            'No events are defined for this app yet: define them with POST /v1/sources/:id/event-definitions.',
          ),
        )
        byKey.update([])
        byUser.update([])
        replaceChildren(table)
        return
      }
      const r = range()
      const stats = await api.userStats(source.id, event.value, { from: r.from, to: r.to, limit: 1000 })
      replaceChildren(
        status,
        stats.users.length === 0 ? notice('No statistics for this event in this range yet.') : null,
      )
      show(stats)
    }
    event.addEventListener('change', requestRefresh)
    return { refresh, destroy() {} }
  },
}
