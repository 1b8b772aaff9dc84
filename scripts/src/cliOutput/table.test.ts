import { describe, expect, it } from 'vitest'
import { formatTable } from './table.ts'

const columns = [
  { header: 'projection' },
  { header: 'committed', align: 'right' as const },
  { header: 'state' },
]

describe('formatTable', () => {
  it('makes each column as wide as its widest cell, whatever the names', () => {
    const lines = formatTable(columns, [
      ['events', '12', 'running'],
      ['a-projection-with-a-very-long-name', '1234567', 'stopped'],
    ])
    expect(lines).toEqual([
      'projection                          committed  state',
      'events                                     12  running',
      'a-projection-with-a-very-long-name    1234567  stopped',
    ])
  })

  it('starts every column at the same offset on every line', () => {
    const lines = formatTable(columns, [
      ['x', '1', 'a'],
      ['much-longer-name', '100000000000', 'b'],
    ])
    const stateAt = lines.map((line) => line.lastIndexOf(' ') + 1)
    expect(new Set(stateAt).size).toBe(1)
    expect(lines[0]?.indexOf('state')).toBe(stateAt[0])
  })

  it('prints the headers alone for no rows and trims trailing spaces', () => {
    expect(formatTable([{ header: 'a' }, { header: 'b' }], [])).toEqual(['a  b'])
    expect(formatTable([{ header: 'name' }, { header: 'x' }], [['n', '']])).toEqual(['name  x', 'n'])
  })
})
