import { describe, expect, it } from 'vitest'
import { toFieldIssues } from './errors.ts'
import {
  FreeFormObject,
  findJsonFault,
  freeFormJson,
  freeText,
  identifier,
  isWellFormed,
  textFault,
  toWellFormed,
  toWellFormedJson,
  trimmedName,
  wellFormedJson,
} from './wellFormed.ts'

describe('well-formed Unicode', () => {
  it('tells a lone surrogate from a pair, wherever it stands', () => {
    const cases: [string, boolean, string][] = [
      ['plain', true, 'plain'],
      ['pair \ud83d\ude00', true, 'pair \ud83d\ude00'],
      ['cut \ud83d', false, 'cut \ufffd'],
      ['low \ude00 first', false, 'low \ufffd first'],
      ['reversed \ude00\ud83d', false, 'reversed \ufffd\ufffd'],
      ['\ud800\ud800\udc00', false, '\ufffd\ud800\udc00'],
    ]
    for (const [value, wellFormed, made] of cases) {
      expect([value, isWellFormed(value), toWellFormed(value)]).toEqual([value, wellFormed, made])
    }
  })

  it('makes every string and key of a JSON value well-formed, leaving the rest as it is', () => {
    const value = { 'k\ud83d': ['ok', '\udc00', 2, null, { deep: 'x\ud800', flag: true }], n: 1.5 }
    expect(toWellFormedJson(value)).toEqual({
      'k\ufffd': ['ok', '\ufffd', 2, null, { deep: 'x\ufffd', flag: true }],
      n: 1.5,
    })
    expect(toWellFormedJson('\ud800')).toBe('\ufffd')
  })
})

describe('the rule for text', () => {
  it('finds the first unit that breaks each class of field', () => {
    const cases: [string, number, number, number][] = [
      // value, name, text, any
      ['plain', -1, -1, -1],
      ['é ✓ 日本 😀', -1, -1, -1],
      ['tab\there', 3, -1, -1],
      ['line\nbreak\r', 4, -1, -1],
      ['nul\u0000', 3, 3, -1],
      ['esc\u001b', 3, 3, -1],
      ['del\u007f', 3, 3, -1],
      ['c1\u0085', 2, 2, -1],
      ['c1 end\u009f', 6, 6, -1],
      ['nbsp\u00a0ok', -1, -1, -1],
      ['cut \ud83d', 4, 4, 4],
      ['cut \ud83d then', 4, 4, 4],
      ['low \ude00 first', 4, 4, 4],
      ['reversed \ude00\ud83d', 9, 9, 9],
      ['\ud800\ud800\udc00', 0, 0, 0],
      ['pair \ud83d\ude00 then lone \udbff', 18, 18, 18],
    ]
    for (const [value, name, text, any] of cases) {
      expect([value, textFault(value, 'name'), textFault(value, 'text'), textFault(value, 'any')]).toEqual([
        value,
        name,
        text,
        any,
      ])
    }
  })

  it('says why, naming the unit and where it is', () => {
    expect(identifier(10).safeParse('a\u0000').error?.issues[0]?.message).toBe(
      'must not contain control characters (U+0000 at index 1)',
    )
    expect(identifier(10).safeParse('x\ud800').error?.issues[0]?.message).toBe(
      'must be well-formed Unicode: a lone surrogate (U+D800) at index 1',
    )
  })

  it('holds names, trimmed names and free text each to their class', () => {
    expect(identifier(5).safeParse('ab c').success).toBe(true)
    expect(identifier(5).safeParse('').success).toBe(false)
    expect(identifier(5).safeParse('abcdef').success).toBe(false)
    expect(identifier(5).safeParse('a\tb').success).toBe(false)
    expect(trimmedName(5).safeParse('  Ann  ').data).toBe('Ann')
    expect(trimmedName(5).safeParse('An\nn').success).toBe(false)
    expect(freeText(20).safeParse('one\ntwo\tthree').success).toBe(true)
    expect(freeText(20).safeParse('one\u0000').success).toBe(false)
    // Lengths count characters, so an emoji is one.
    expect(freeText(20).safeParse('😀'.repeat(20)).success).toBe(true)
    expect(freeText(20).safeParse('😀'.repeat(21)).success).toBe(false)
  })
})

describe('free-form JSON', () => {
  it('names the first string, key or number that breaks the rule', () => {
    const value = { a: [1, { b: 'ok', c: ['x', 'y\ud800'] }], d: Number.POSITIVE_INFINITY }
    expect(findJsonFault(value, freeFormJson)).toEqual({
      path: ['a', 1, 'c', 1],
      message: 'must be well-formed Unicode: a lone surrogate (U+D800) at index 1',
    })
    expect(findJsonFault({ a: { b: [Number.NaN] } }, freeFormJson)?.path).toEqual(['a', 'b', 0])
    expect(findJsonFault({ a: { 'k\u0001': 1 } }, freeFormJson)).toEqual({
      path: ['a'],
      message: 'key "k\\u0001" must not contain control characters (U+0001 at index 1)',
    })
    expect(findJsonFault({ a: 'tab\tand\nlines', n: -0, z: null, t: true }, freeFormJson)).toBeNull()
  })

  it('asks of a body only well-formed strings and keys', () => {
    expect(findJsonFault({ password: 'a\u0000b', n: Number.POSITIVE_INFINITY }, wellFormedJson)).toBeNull()
    expect(findJsonFault([{ '\udc00': 1 }], wellFormedJson)?.path).toEqual([0])
  })

  it('gives field paths through the schema that holds it', () => {
    const parsed = FreeFormObject.safeParse({ cart: { items: [{ price: Number.NEGATIVE_INFINITY }] } })
    expect(toFieldIssues(parsed.error?.issues ?? [], 'data')).toEqual([
      { path: 'data.cart.items[0].price', message: 'must be a finite number' },
    ])
  })
})
