import { describe, expect, it } from 'vitest'
import { createRowBinaryEncoder, encodeRowBinary, type TableColumn } from './rowBinary.ts'

const columns: TableColumn[] = [
  { name: 'k', type: 'LowCardinality(String)' },
  { name: 'u', type: 'UInt32' },
  { name: 'big', type: 'UInt64' },
  { name: 'neg', type: 'Int64' },
  { name: 't', type: "DateTime64(3, 'UTC')" },
  { name: 'n', type: 'Nullable(UInt8)' },
  { name: 'a', type: 'Array(String)' },
  { name: 'price', type: 'Decimal(18, 2)' },
]

describe('RowBinary encoding of bulk inserts', () => {
  it('writes each value as ClickHouse reads RowBinary: strings with their UTF-8 length, integers little-endian', () => {
    const body = encodeRowBinary(
      [
        { k: 'é', u: 258, big: 2 ** 32 + 1, neg: -2, t: 1_000, n: null, a: ['x', ''] },
        { k: '', u: 0, big: 0, neg: 0, t: 0, n: 7, a: [] },
      ],
      columns,
    )
    expect(body?.columns).toEqual(['k', 'u', 'big', 'neg', 't', 'n', 'a'])
    expect(body?.structure).toBe(
      "`k` String, `u` UInt32, `big` UInt64, `neg` Int64, `t` DateTime64(3, 'UTC'), `n` Nullable(UInt8), `a` Array(String)",
    )
    expect([...(body?.bytes ?? [])]).toEqual([
      ...[2, 0xc3, 0xa9],
      ...[2, 1, 0, 0],
      ...[1, 0, 0, 0, 1, 0, 0, 0],
      ...[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      ...[0xe8, 3, 0, 0, 0, 0, 0, 0],
      1,
      ...[2, 1, 0x78, 0],
      ...[0],
      ...[0, 0, 0, 0],
      ...[0, 0, 0, 0, 0, 0, 0, 0],
      ...[0, 0, 0, 0, 0, 0, 0, 0],
      ...[0, 0, 0, 0, 0, 0, 0, 0],
      ...[0, 7],
      0,
    ])
  })

  it('writes a string longer than 127 bytes with a varint length', () => {
    const body = encodeRowBinary([{ k: 'x'.repeat(300) }], columns)
    expect([...(body?.bytes.subarray(0, 2) ?? [])]).toEqual([0xac, 0x02])
    expect(body?.bytes.length).toBe(302)
  })

  it.each([
    ['ASCII', 'plain-ascii_0123'],
    ['ASCII at the length copied byte by byte', 'x'.repeat(64)],
    ['ASCII one past it', 'x'.repeat(65)],
    ['text with a letter past ASCII at its end', `${'x'.repeat(63)}é`],
    ['another script', 'Магазин №1'],
    ['an emoji after ASCII', 'cart 🛒'],
    ['a control character', 'nul\u0000byte'],
  ])('writes %s as its UTF-8 bytes after their length', (_, text) => {
    const utf8 = Buffer.from(text, 'utf8')
    const body = encodeRowBinary([{ k: text }], columns)
    expect(body?.bytes).toEqual(Buffer.concat([Buffer.from([utf8.length]), utf8]))
  })

  it.each([
    ['a column the table does not have', [{ k: 'a', other: 1 }]],
    ['a column type it does not write', [{ k: 'a', price: 1.5 }]],
    ['a later row without a column', [{ k: 'a', u: 1 }, { k: 'b' }]],
    ['a later row with one more column', [{ k: 'a' }, { k: 'b', u: 1 }]],
    ['a later row with another column instead', [{ k: 'a' }, { u: 1 }]],
    ['text that is not well-formed Unicode', [{ k: 'lone \ud800 surrogate' }]],
    ['a fraction for an integer', [{ u: 1.5 }]],
    ['a negative number for an unsigned integer', [{ u: -1 }]],
    ['a number past the integer type', [{ u: 2 ** 32 }]],
    ['an integer past 2^53', [{ big: 2 ** 60 }]],
    ['a date written as text', [{ t: '2026-01-01 00:00:00' }]],
    ['a number for a string', [{ k: 5 }]],
    ['undefined for a value', [{ k: undefined }]],
    ['an array holding a wrong item', [{ a: ['x', 1] }]],
  ])('leaves the rows to JSON when they hold %s', (_, rows) => {
    expect(encodeRowBinary(rows, columns)).toBeNull()
  })
})

describe('RowBinary encoding a group of rows at a time', () => {
  const rows = [
    { k: 'a', u: 1, big: 2, neg: -3, t: 4, n: null, a: ['x'] },
    { k: 'bc', u: 5, big: 6, neg: 7, t: 8, n: 9, a: [] },
    { k: 'é', u: 10, big: 11, neg: -12, t: 13, n: 14, a: ['y', 'z'] },
  ]

  it('given rows added in groups, when taken, then the body is byte for byte that of the rows encoded at once', () => {
    const encoder = createRowBinaryEncoder(columns)
    expect(encoder.add(rows.slice(0, 1))).toBe(true)
    expect(encoder.add(rows.slice(1))).toBe(true)
    expect(encoder.count).toBe(3)
    const body = encoder.take()
    expect(body).toEqual(encodeRowBinary(rows, columns))
    expect(encoder.count).toBe(0)
    expect(encoder.take()).toBeNull()
  })

  it('given a group with a row it cannot write exactly, when added, then none of the group is kept and the groups before stay as they were', () => {
    const encoder = createRowBinaryEncoder(columns)
    encoder.add(rows.slice(0, 2))
    expect(encoder.add([rows[2]!, { ...rows[0]!, u: 'not a number' }])).toBe(false)
    expect(encoder.add([{ ...rows[0]!, extra: 1 }])).toBe(false)
    expect(encoder.count).toBe(2)
    expect(encoder.take()).toEqual(encodeRowBinary(rows.slice(0, 2), columns))
  })

  it('given a body taken, when more rows are added, then the next body holds only them, in the same columns', () => {
    const encoder = createRowBinaryEncoder(columns)
    encoder.add(rows.slice(0, 2))
    encoder.take()
    encoder.add(rows.slice(2))
    expect(encoder.take()).toEqual(encodeRowBinary(rows.slice(2), columns))
  })
})
