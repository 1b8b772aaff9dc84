import { describe, expect, it } from 'vitest'
import { EventInput, TelemetryEvent } from './telemetry.ts'
import { parseEventInput, parseTelemetryEvent } from './telemetryFastPath.ts'

const now = Date.now()
const base = {
  id: 'e-1',
  name: 'page_view',
  timestamp: now - 60_000,
  subject: 'u-1',
  session: 's-1',
  category: 'nav',
  attrs: { path: '/home', n: 3, ok: true, none: null },
}

/** Values each field is tried with: valid, invalid, and edge cases of both. */
const candidates: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'a'.repeat(100),
  'a'.repeat(101),
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(200),
  'a'.repeat(201),
  'tab\there',
  'del\u007f',
  'é ✓ 日本',
  // The rule for well-formed input: surrogate pairs are text, lone surrogates and C1 controls are not.
  'emoji 😀',
  'cut \ud83d',
  'low \ude00 first',
  'reversed \ude00\ud83d',
  'next line\u0085',
  'line\nbreak',
  0,
  -1,
  1.5,
  now,
  now + 8 * 24 * 3600_000,
  Date.UTC(1999, 11, 31),
  Date.UTC(2000, 0, 1),
  Number.MAX_SAFE_INTEGER + 2,
  '2026-11-22T10:15:00Z',
  new Date(now - 3_600_000).toISOString(),
  new Date(now + 8 * 24 * 3600_000).toISOString(),
  '1999-12-31T23:59:59.999Z',
  '2026-02-29T10:15:00.000Z',
  '2028-02-29T10:15:00.000Z',
  '2026-11-22T24:00:00.000Z',
  '+02026-11-22T10:15:00Z',
  '2026-11-22T10:15:00+03:00',
  '2026-11-22T10:15:00',
  '2026-02-31T10:15:00Z',
  '2026-02-30T10:15:00.000Z',
  '2026-04-31T00:00:00.000Z',
  '2026-04-30T23:59:59.999Z',
  '2026-13-01T00:00:00.000Z',
  '2026-00-10T00:00:00.000Z',
  '2026-11-00T00:00:00.000Z',
  '2026-11-22T23:60:00.000Z',
  '2026-11-22T23:59:60.000Z',
  '2026-11-22 10:15:00.000Z',
  '2026-11-22T10:15:00.0a0Z',
  '2026-11-22T10:15:00.000z',
  '2100-02-29T00:00:00.000Z',
  '2000-02-29T00:00:00.000Z',
  '0099-01-01T00:00:00.000Z',
  'yesterday',
  true,
  [],
  {},
  { a: 1 },
  { a: { nested: [1, 2] } },
  { '': 1 },
  { ['k'.repeat(129)]: 1 },
  { s: 'v'.repeat(4096) },
  { s: 'v'.repeat(4097) },
  Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`k${i}`, i])),
  Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, i])),
  [1, 'a'],
  { s: 'line\nand\ttab\r' },
  { s: 'nul\u0000' },
  { s: 'cut \ud83d' },
  { s: 'c1\u009f' },
  { 'key\u0001': 1 },
  { 'key\ud800': 1 },
  { 'emoji 😀': 'ok 😀' },
  { a: { deep: ['x\ud800'] } },
  { a: { deep: [Number.POSITIVE_INFINITY] } },
  { a: { 'key\u0000': 1 } },
  { a: { text: 'tab\there' } },
  { n: Number.NaN },
]

const inputs: unknown[] = [base, null, [], 'event', 42, { ...base, extra: 1 }, { name: 'only-name' }]
for (const field of Object.keys(base)) {
  for (const value of candidates) {
    const event: Record<string, unknown> = { ...base, [field]: value }
    if (value === undefined) delete event[field]
    inputs.push(event)
  }
}

describe('the plain checks ahead of the event schemas', () => {
  it('accept exactly what EventInput accepts, with the same values', () => {
    let accepted = 0
    for (const input of inputs) {
      const fast = parseEventInput(input)
      const schema = EventInput.safeParse(input)
      expect({ input, success: fast.success }).toEqual({ input, success: schema.success })
      if (fast.success && schema.success) {
        expect(fast.data).toEqual(schema.data)
        accepted += 1
      }
    }
    // Both outcomes are exercised: the corpus is not all valid or all invalid.
    expect(accepted).toBeGreaterThan(50)
    expect(accepted).toBeLessThan(inputs.length - 50)
  })

  it('give the schema own messages for what they refuse', () => {
    const fast = parseEventInput({ ...base, timestamp: 'yesterday' })
    const schema = EventInput.safeParse({ ...base, timestamp: 'yesterday' })
    expect(fast.success).toBe(false)
    expect(fast.error?.issues).toEqual(schema.error?.issues)
  })

  it('read back logged events as TelemetryEvent does', () => {
    const logged = {
      id: 'e-1',
      accountId: 'a-1',
      sourceId: 's-1',
      name: 'page_view',
      timestamp: now,
      receivedAt: now,
      attrs: { path: '/home' },
    }
    const variants: unknown[] = [
      logged,
      { ...logged, subject: 'u' },
      { ...logged, attrs: { deep: { a: [1] } } },
      // Read back as logged before the rule for input: a control character in a value stays readable.
      { ...logged, attrs: { note: 'nul\u0000' } },
      { ...logged, id: '' },
      { ...logged, timestamp: '2026-01-01' },
      { ...logged, timestamp: 1.5 },
      { ...logged, attrs: null },
      { ...logged, subject: 3 },
      null,
      'x',
    ]
    for (const data of variants) {
      const fast = parseTelemetryEvent(data)
      const schema = TelemetryEvent.safeParse(data)
      expect(fast.success).toBe(schema.success)
      if (fast.success && schema.success) expect(fast.data).toEqual(schema.data)
    }
  })
})
