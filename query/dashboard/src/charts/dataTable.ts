import { h } from '../dom.ts'

export interface Column<Row> {
  readonly label: string
  readonly value: (row: Row) => string | number | null
  /** Right-aligned, for numbers. */
  readonly numeric?: boolean
}

/** A plain table: the accessible form of a chart's data, and the main form of lists. */
export function dataTable<Row>(caption: string, columns: readonly Column<Row>[], rows: readonly Row[]) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, c.label)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            columns.map((c) => h('td', { class: c.numeric ? 'num' : null }, c.value(row) ?? '–')),
          ),
        ),
      ),
    ),
  )
}
