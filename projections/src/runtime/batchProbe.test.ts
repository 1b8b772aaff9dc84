import { describe, expect, it } from 'vitest'
import { findFaultyRecords } from './batchProbe.ts'

/** A batch that fails while it holds any of `bad`, with the first bad record's error; every attempt recorded. */
const batchFailingOn = (bad: ReadonlySet<number>) => {
  const attempts: number[][] = []
  const attempt = async (records: readonly number[]) => {
    attempts.push([...records])
    const found = records.find((record) => bad.has(record))
    return found === undefined ? null : new Error(`record ${found} cannot be applied`)
  }
  return { attempt, attempts }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe('finding the records of a failing batch by halving', () => {
  it('finds the one bad record among a thousand in about 2·log2(n) attempts', async () => {
    const { attempt, attempts } = batchFailingOn(new Set([613]))
    const faulty = await findFaultyRecords(range(1000), attempt)
    expect(faulty.map((f) => f.record)).toEqual([613])
    expect((faulty[0]!.error as Error).message).toBe('record 613 cannot be applied')
    expect(attempts.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(1000)) + 1)
  })

  it('finds every bad record, in batch order, and never tries a record twice on its own', async () => {
    const bad = new Set([0, 1, 517, 999])
    const { attempt, attempts } = batchFailingOn(bad)
    const faulty = await findFaultyRecords(range(1000), attempt)
    expect(faulty.map((f) => f.record)).toEqual([0, 1, 517, 999])
    const singles = attempts.filter((a) => a.length === 1).map(([record]) => record)
    expect(new Set(singles).size).toBe(singles.length)
  })

  it('finds nothing in a batch that applies, after one attempt', async () => {
    const { attempt, attempts } = batchFailingOn(new Set())
    expect(await findFaultyRecords(range(50), attempt)).toEqual([])
    expect(attempts).toEqual([range(50)])
  })

  it('uses the failure the whole batch already gave instead of trying it again', async () => {
    const { attempt, attempts } = batchFailingOn(new Set([3]))
    const faulty = await findFaultyRecords(range(4), attempt, new Error('the batch failed'))
    expect(faulty.map((f) => f.record)).toEqual([3])
    expect(attempts).toEqual([[0, 1], [2, 3], [2], [3]])
  })

  it('finds nothing when the records fail only together: the batch is left to fail and be retried', async () => {
    const attempt = async (records: readonly number[]) =>
      records.includes(1) && records.includes(2) ? new Error('only together') : null
    expect(await findFaultyRecords(range(4), attempt)).toEqual([])
  })

  it('stops when an attempt fails for another reason (the engine away): nothing is set aside', async () => {
    const attempt = async (records: readonly number[]) => {
      if (records.length < 4) throw new Error('connection refused')
      return new Error('bad')
    }
    await expect(findFaultyRecords(range(8), attempt)).rejects.toThrow('connection refused')
  })
})
