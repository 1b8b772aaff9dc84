import { describe, expect, it } from 'vitest'
import { InvalidLogRecordError } from '../invalidLogRecord.ts'
import { WarehouseRejectedError, WarehouseUnavailableError } from '../warehouse/warehouseErrors.ts'
import { checkedInsert, faultOf, isRecordFault } from './quarantine.ts'

describe('which failures are a record’s fault', () => {
  it('counts a refused statement and a record off its schema, never an engine that is away', () => {
    const rejected = new WarehouseRejectedError('insert', 'CANNOT_PARSE_ESCAPE_SEQUENCE', {
      cause: new Error('missing second part of surrogate pair'),
    })
    expect(isRecordFault(rejected)).toBe(true)
    expect(faultOf(rejected).code).toBe('CANNOT_PARSE_ESCAPE_SEQUENCE')
    expect(isRecordFault(new InvalidLogRecordError(7, 'no name'))).toBe(true)
    expect(
      isRecordFault(new WarehouseUnavailableError('insert', 'TIMEOUT_EXCEEDED', { cause: 'slow' })),
    ).toBe(false)
    expect(isRecordFault(new Error('ECONNREFUSED'))).toBe(false)
  })

  it('does not blame the records when the table they were written to is not there', () => {
    for (const type of ['UNKNOWN_TABLE', 'UNKNOWN_DATABASE', 'TABLE_IS_DROPPED']) {
      const gone = new WarehouseRejectedError('insert', type, { cause: new Error('events_raw__g2 is gone') })
      expect(isRecordFault(gone)).toBe(false)
    }
  })
})

describe('rows checked before they are sent', () => {
  const sent: { table: string; rows: readonly object[] }[] = []
  const insert = checkedInsert(async (table, rows) => {
    sent.push({ table, rows })
  })

  it('sends rows of well-formed text and finite numbers as they are', async () => {
    const rows = [{ position: 1, name: 'café 🍰', attrs: { 'k\n': ['a', 2.5] } }]
    await insert('events_raw', rows)
    expect(sent.at(-1)).toEqual({ table: 'events_raw', rows })
  })

  it.each([
    ['a lone surrogate in a string', { position: 4, name: 'x\ud800' }, /events_raw\.name .*lone surrogate/],
    [
      'a lone surrogate deep in an array',
      { position: 4, tags: [['ok', '\udc00']] },
      /events_raw\.tags\.0\.1 /,
    ],
    ['a lone surrogate in a key', { position: 4, attrs: { 'k\ud83d': 1 } }, /lone surrogate/],
    ['a number that is not finite', { position: 4, amount: Number.POSITIVE_INFINITY }, /finite/],
  ])('refuses %s as the record’s fault, naming its position and field', async (_, row, message) => {
    const before = sent.length
    const refused = insert('events_raw', [{ position: 3, name: 'fine' }, row])
    await expect(refused).rejects.toThrow(InvalidLogRecordError)
    await expect(refused).rejects.toThrow(/position 4/)
    await expect(refused).rejects.toThrow(message)
    expect(sent.length).toBe(before)
  })
})
