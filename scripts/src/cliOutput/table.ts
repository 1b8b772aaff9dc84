/**
 * A plain-text table for the operator commands: each column as wide as its widest cell, so
 * long names (a projection's key, an error) never push the figures out of line.
 */

export type Align = 'left' | 'right'

export interface Column {
  readonly header: string
  readonly align?: Align
}

const pad = (cell: string, width: number, align: Align) =>
  align === 'right' ? cell.padStart(width) : cell.padEnd(width)

/** The rows under their headers, columns two spaces apart, without trailing spaces. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => pad(cells[i] ?? '', widths[i] ?? 0, column.align ?? 'left'))
      .join('  ')
      .trimEnd()
  return [line(columns.map((column) => column.header)), ...rows.map(line)]
}
