import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { describeControlStoreContract } from '../contract/controlStoreContract.ts'
import type { ControlRecord, ControlStore, NewControlRecord, StreamAppendOutcome } from '../controlStore.ts'
import { createPostgresControlStore, type PostgresControlStore } from './postgresControlStore.ts'
import type { PostgresOptions } from './postgresPool.ts'
import { scratchSchemas } from './testing/scratchSchemas.ts'

const schemas = scratchSchemas('control_store')
afterAll(() => schemas.dropAll())

/** The schema each store of the contract works in, to open it again. */
const optionsOf = new WeakMap<ControlStore, PostgresOptions>()
const openFor = async (options: PostgresOptions) => {
  const store = await createPostgresControlStore(options)
  optionsOf.set(store, options)
  return store
}

describeControlStoreContract('PostgreSQL', {
  create: () => openFor(schemas.options()),
  reopen: (previous) => openFor(optionsOf.get(previous)!),
})

const opened: PostgresControlStore[] = []
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close()
})
/** A store with a pool of its own, as each process of a deployment has. */
const open = async (options: PostgresOptions) => {
  const store = await createPostgresControlStore(options)
  opened.push(store)
  return store
}

const change = (writer: string, n: number): NewControlRecord => ({ type: 'changed', data: { writer, n } })

const appended = (outcome: StreamAppendOutcome) => {
  if (outcome.status !== 'appended') throw new Error(`expected an append, got ${JSON.stringify(outcome)}`)
  return outcome
}

const readEverything = async (store: PostgresControlStore) => {
  const all: ControlRecord[] = []
  for (let from = 0; ; ) {
    const page = await store.readAll(from, 500)
    if (page.length === 0) return all
    all.push(...page)
    from = page[page.length - 1]!.position + 1
  }
}

describe('PostgreSQL control store', () => {
  it('given a stream, when appends expect another revision than its own, then they are conflicts naming it, and write nothing', async () => {
    const store = await open(schemas.options())
    const stream = `account-${randomUUID()}`
    appended(await store.appendToStream(stream, [change('a', 0), change('a', 1)], 'no-stream'))
    const before = await readEverything(store)

    const outcomes = [
      await store.appendToStream(stream, [change('b', 0)], 'no-stream'),
      await store.appendToStream(stream, [change('b', 1)], 0),
      await store.appendToStream(stream, [change('b', 2)], 2),
      await store.appendToStream(`account-${randomUUID()}`, [change('b', 3)], 1),
    ]

    expect(outcomes).toEqual([
      { status: 'conflict', actualRevision: 1 },
      { status: 'conflict', actualRevision: 1 },
      { status: 'conflict', actualRevision: 1 },
      { status: 'conflict', actualRevision: null },
    ])
    expect(await readEverything(store)).toEqual(before)
    expect(appended(await store.appendToStream(stream, [change('c', 0)], 1)).revision).toBe(2)
  })

  it('given two processes, when they race to append to one stream at the same revision, then exactly one wins each time', async () => {
    const options = schemas.options()
    const [first, second] = [await open(options), await open(options)]
    const stream = `store-people-${randomUUID()}`
    const rounds = 20
    const winners: unknown[] = []

    for (let round = 0; round < rounds; round++) {
      const expected = round === 0 ? 'no-stream' : round - 1
      const outcomes = await Promise.all([
        first.appendToStream(stream, [change('first', round)], expected),
        second.appendToStream(stream, [change('second', round)], expected),
      ])

      const won = outcomes.findIndex((outcome) => outcome.status === 'appended')
      expect(won).not.toBe(-1)
      expect(appended(outcomes[won]!).revision).toBe(round)
      expect(outcomes[1 - won]).toEqual({ status: 'conflict', actualRevision: round })
      winners.push(change(won === 0 ? 'first' : 'second', round).data)
    }

    const kept = await second.readStream(stream)
    expect(kept.map((record) => record.data)).toEqual(winners)
    expect(kept.map((record) => record.revision)).toEqual(winners.map((_, i) => i))
  })

  it('given many appenders in several processes, when a follower reads on from its last position meanwhile, then it sees every record once, in position order', async () => {
    const options = schemas.options()
    const processes = await Promise.all(Array.from({ length: 4 }, () => open(options)))
    const follower = await open(options)
    const shared = Array.from({ length: 3 }, () => `fleet-${randomUUID()}`)
    const sent: {
      stream: string
      records: NewControlRecord[]
      outcome: { firstPosition: number; revision: number }
    }[] = []

    // Each appender keeps a stream of its own at the revisions it expects, and adds to streams
    // that every appender shares, expecting any revision: batches of one to three records.
    const appender = async (store: PostgresControlStore, name: string) => {
      const own = `source-${randomUUID()}`
      let revision: number | null = null
      for (let n = 0; n < 25; n++) {
        const records = Array.from({ length: 1 + (n % 3) }, (_, i) => change(name, n * 3 + i))
        const stream = n % 2 === 0 ? own : shared[n % shared.length]!
        const expected = stream === own ? (revision ?? 'no-stream') : 'any'
        const outcome = appended(await store.appendToStream(stream, records, expected))
        if (stream === own) revision = outcome.revision
        sent.push({ stream, records, outcome })
      }
    }
    let writing = true
    const following = (async () => {
      const seen: ControlRecord[] = []
      for (let next = 0; ; ) {
        const writersDone = !writing
        const page = await follower.readAll(next, 64)
        seen.push(...page)
        if (page.length > 0) next = page[page.length - 1]!.position + 1
        else if (writersDone) return seen
        else await follower.waitForAppend(next, { timeoutMs: 20 })
      }
    })()

    await Promise.all(
      processes.flatMap((store, p) => Array.from({ length: 8 }, (_, a) => appender(store, `p${p}a${a}`))),
    )
    writing = false
    const seen = await following

    const all = await readEverything(follower)
    expect(seen).toEqual(all)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.position).toBeGreaterThan(seen[i - 1]!.position)
    expect(seen).toHaveLength(sent.reduce((sum, { records }) => sum + records.length, 0))
    const byPosition = new Map(seen.map((record) => [record.position, record]))
    for (const { stream, records, outcome } of sent) {
      const firstRevision = outcome.revision - records.length + 1
      const landed = records.map((_, i) => byPosition.get(outcome.firstPosition + i))
      expect(landed.map((record) => [record?.stream, record?.revision, record?.data])).toEqual(
        records.map((record, i) => [stream, firstRevision + i, record.data]),
      )
    }
  })

  it('given acknowledged appends, when the store is closed and opened again, then they read back unchanged and go on from there', async () => {
    const options = schemas.options()
    const store = await open(options)
    const stream = `account-${randomUUID()}`
    appended(await store.appendToStream(stream, [change('a', 0), change('a', 1)], 'no-stream'))
    appended(await store.appendToStream(`source-${randomUUID()}`, [change('a', 2)], 'any'))
    const before = await readEverything(store)
    await store.close()

    const again = await open(options)

    expect(await readEverything(again)).toEqual(before)
    const next = appended(await again.appendToStream(stream, [change('b', 0)], 1))
    expect(next.revision).toBe(2)
    expect(next.firstPosition).toBeGreaterThan(before[before.length - 1]!.position)
    await expect(store.readAll(0, 10)).rejects.toMatchObject({ code: 'LOG_CLOSED' })
  })

  it('given a follower waiting at the head, when another process appends, then it is woken; with nothing appended it is not', async () => {
    const options = schemas.options()
    const [writer, follower] = [await open(options), await open(options)]
    const stream = `account-${randomUUID()}`
    appended(await writer.appendToStream(stream, [change('w', 0)], 'no-stream'))
    const head = (await follower.readAll(0, 10)).length

    expect(await follower.waitForAppend(head - 1, { timeoutMs: 30_000 })).toBe(true)
    expect(await follower.waitForAppend(head, { timeoutMs: 10 })).toBe(false)
    const waiting = follower.waitForAppend(head, { timeoutMs: 30_000 })
    const next = appended(await writer.appendToStream(stream, [change('w', 1)], 0))

    expect(await waiting).toBe(true)
    expect(next.firstPosition).toBe(head)
  })
})
