import { describe, expect, it } from 'vitest'
import { InlineParamError, inlineParams } from './inlineParams.ts'

describe('values written into a read as typed literals', () => {
  it('casts each value to its placeholder type, escaping quotes and backslashes', () => {
    expect(
      inlineParams('SELECT * FROM t WHERE s = {s:String} AND n < {n:Int64} AND id IN {ids:Array(String)}', {
        s: "it's \\ here",
        n: -5,
        ids: ['a', "b'"],
      }),
    ).toBe(
      "SELECT * FROM t WHERE s = CAST('it\\'s \\\\ here', 'String') AND n < CAST(-5, 'Int64') AND id IN CAST(['a','b\\''], 'Array(String)')",
    )
    expect(inlineParams("{t:DateTime('UTC')} {big:UInt64} {b:Bool}", { t: 0, big: 2n ** 63n, b: true })).toBe(
      "CAST(0, 'DateTime(\\'UTC\\')') CAST(9223372036854775808, 'UInt64') CAST(true, 'Bool')",
    )
  })

  it('refuses a missing value, a number it cannot write exactly, and a value of another kind', () => {
    expect(() => inlineParams('{a:String}', {})).toThrow(InlineParamError)
    expect(() => inlineParams('{a:Float64}', { a: Number.NaN })).toThrow(/finite/)
    expect(() => inlineParams('{a:UInt64}', { a: 2 ** 60 })).toThrow(/bigint/)
    expect(() => inlineParams('{a:String}', { a: { b: 1 } })).toThrow(/literal/)
    expect(() => inlineParams('{a:String;DROP}', { a: 'x' })).toThrow(/unexpected type/)
  })
})
