import { h, replaceChildren, uniqueId } from '../dom.ts'
import { formatNumber } from './formats.ts'

export interface Bar {
  readonly label: string
  readonly value: number
  /** What the value reads as (default: the number). */
  readonly display?: string
  /** Further figures shown beside the bar. */
  readonly extra?: readonly string[]
}

export interface BarList {
  readonly element: HTMLElement
  update(bars: readonly Bar[]): void
}

/**
 * A horizontal bar chart that is a table: each row a label, a bar scaled to the largest value
 * and the figures, so screen readers read the numbers and nobody needs hover to see them.
 */
export function barList(title: string, columns: { value: string; extra?: readonly string[] }): BarList {
  const captionId = uniqueId('bars')
  const body = h('tbody', {})
  const element = h(
    'figure',
    { class: 'chart bar-chart', 'aria-labelledby': captionId },
    h('figcaption', { id: captionId }, title),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'bars' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Name'),
            h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'visually-hidden' }, 'Bar')),
            h('th', { scope: 'col', class: 'num' }, columns.value),
            (columns.extra ?? []).map((label) => h('th', { scope: 'col', class: 'num' }, label)),
          ),
        ),
        body,
      ),
    ),
  )
  return {
    element,
    update(bars) {
      const max = Math.max(0, ...bars.map((b) => b.value))
      element.dataset.rows = String(bars.length)
      replaceChildren(
        body,
        bars.length === 0
          ? h('tr', {}, h('td', { colspan: 3 + (columns.extra?.length ?? 0) }, 'No data in this range'))
          : bars.map((bar) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, bar.label),
                h(
                  'td',
                  { class: 'bar-col', 'aria-hidden': 'true' },
                  h('div', {
                    class: 'bar',
                    style: `width: ${max > 0 ? Math.max(0.5, (bar.value / max) * 100).toFixed(2) : 0}%`,
                  }),
                ),
                h('td', { class: 'num' }, bar.display ?? formatNumber(bar.value)),
                (bar.extra ?? []).map((text) => h('td', { class: 'num' }, text)),
              ),
            ),
      )
    },
  }
}
