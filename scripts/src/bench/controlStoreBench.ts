/**
 * `npm run bench -- control-store`: appends per second to the PostgreSQL control store, from
 * several processes' pools with several appends in flight each, every appender on a stream of
 * its own at the revision it expects. The server is HOURGLASS_POSTGRES_URL, or the local one the
 * tests use; the bench works in a schema of its own and drops it.
 */
import { randomUUID } from 'node:crypto'
import { createPostgresControlStore, type PostgresControlStore } from '@hourglass/log/postgres'
import { scratchSchemas } from '@hourglass/log/postgres/testing'
import type { BenchFigure } from './benchFigure.ts'

/** (processes, appends in flight per process), each measured for `SECONDS`. */
const SHAPES = [
  [1, 1],
  [1, 16],
  [4, 4],
  [4, 16],
] as const
const SECONDS = 5

async function appendFor(store: PostgresControlStore, until: number): Promise<number> {
  const stream = `bench-${randomUUID()}`
  let revision: number | 'no-stream' = 'no-stream'
  let count = 0
  while (Date.now() < until) {
    const outcome = await store.appendToStream(stream, [{ type: 'bench.changed', data: { count } }], revision)
    if (outcome.status !== 'appended')
      throw new Error(`an appender lost its own stream: ${JSON.stringify(outcome)}`)
    revision = outcome.revision
    count += 1
  }
  return count
}

export async function runControlStoreBench(): Promise<BenchFigure[]> {
  const schemas = scratchSchemas('bench')
  if (process.env.HOURGLASS_POSTGRES_URL)
    process.env.HOURGLASS_TEST_POSTGRES_URL = process.env.HOURGLASS_POSTGRES_URL
  const figures: BenchFigure[] = []
  try {
    for (const [processes, inFlight] of SHAPES) {
      const options = schemas.options({ poolSize: inFlight })
      const stores = await Promise.all(
        Array.from({ length: processes }, () => createPostgresControlStore(options)),
      )
      try {
        const until = Date.now() + SECONDS * 1000
        const counts = await Promise.all(
          stores.flatMap((store) => Array.from({ length: inFlight }, () => appendFor(store, until))),
        )
        const total = counts.reduce((sum, n) => sum + n, 0)
        figures.push({
          phase: 'control store (PostgreSQL)',
          name: `appends, ${processes} process(es) × ${inFlight} in flight`,
          value: Math.round(total / SECONDS),
          unit: 'appends/s',
        })
        process.stderr.write(`[bench] control-store: ${processes}×${inFlight}: ${total} appends\n`)
      } finally {
        for (const store of stores) await store.close()
      }
    }
  } finally {
    await schemas.dropAll()
  }
  return figures
}
