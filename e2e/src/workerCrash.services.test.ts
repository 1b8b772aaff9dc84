import { tables } from '@hourglass/projections'
import { seededRandom } from '@hourglass/projections/seededRandom'
import { type DistributedHourglass, startDistributedHourglass } from '@hourglass/scripts/distributed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'

/**
 * "Never double-counted" with a group of workers: 100,000 events stream in through two ingest
 * processes while two projection workers share a 4-partition topic; a worker is killed with
 * SIGKILL at random points (at least 10 times) and restarted, and twice one is frozen
 * (SIGSTOP) past its session timeout so its partitions move, then thawed: a zombie that
 * finishes the batch it was writing. The rollups must equal the events producers got 2xx for.
 *
 * Timing comes from a seeded PRNG; the seed is printed, and CRASH_SEED=<seed> replays the plan.
 */

const EVENTS = 100_000
const PER_REQUEST = 500
const SOURCES = 8
const MIN_KILLS = 10
const ZOMBIES = 2
const HOUR = 3600_000
const base = Date.UTC(2026, 9, 1)

const seed = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const random = seededRandom(seed)
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let hg: DistributedHourglass
beforeAll(async () => {
  hg = await startDistributedHourglass({
    brokers: process.env.KAFKA_BROKERS!,
    ingests: 2,
    workers: 2,
    partitions: 4,
    batchSize: 1000,
  })
})
afterAll(() => hg?.close())

describe('projection workers killed at random points while events stream in', () => {
  it(`count every acknowledged event exactly once (seed ${seed})`, async () => {
    process.stdout.write(`worker crash test seed: ${seed} (CRASH_SEED=${seed} replays it)\n`)
    const { token, accountId } = await hg.signUp()
    const sources: { id: string; apiToken: string }[] = []
    for (let i = 0; i < SOURCES; i++) sources.push(await hg.createSource(token))

    const acknowledged = new Map<string, number>()
    let sent = 0
    let refusals = 0
    let producing = true
    const producer = async (lane: number) => {
      for (let request = lane; request * PER_REQUEST < EVENTS; request += 2) {
        const source = sources[request % SOURCES]!
        const events = Array.from({ length: PER_REQUEST }, (_, i) => {
          const n = request * PER_REQUEST + i
          return {
            id: `e-${n}`,
            name: n % 3 ? 'view' : 'buy',
            timestamp: base + (n % 48) * HOUR,
            subject: `u${n % 97}`,
          }
        })
        // A producer re-sends a refused batch with the same ids until it is acknowledged.
        for (let attempt = 0; ; attempt++) {
          const response = await hg.request(hg.ingest[request % 2]!, 'POST', '/v1/events', {
            token: source.apiToken,
            body: { events },
          })
          if (response.status === 200) break
          refusals++
          if (attempt > 20)
            throw new Error(`batch ${request} refused: ${response.status} ${JSON.stringify(response.body)}`)
          await sleep(200)
        }
        acknowledged.set(source.id, (acknowledged.get(source.id) ?? 0) + events.length)
        sent += events.length
        await sleep(between(100, 500))
      }
    }

    let kills = 0
    let zombies = 0
    const chaos = async () => {
      while (producing || kills < MIN_KILLS) {
        await sleep(between(1500, 5000))
        const index = between(0, 1)
        if (zombies < ZOMBIES && kills >= 3 + zombies * 4 && hg.workers[index]) {
          // Frozen past its 6 s session timeout: its partitions go to the other worker; then it resumes.
          const worker = hg.workers[index]!
          worker.child.kill('SIGSTOP')
          await sleep(9000)
          worker.child.kill('SIGCONT')
          zombies++
          continue
        }
        if (!hg.workers[index]) continue
        await hg.killWorker(index)
        kills++
        await sleep(between(200, 3000))
        await hg.startWorker(index)
      }
    }

    const lanes = Promise.all([producer(0), producer(1)]).finally(() => {
      producing = false
    })
    await Promise.all([lanes, chaos()])
    expect(sent).toBe(EVENTS)
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS)
    expect(zombies).toBe(ZOMBIES)
    for (const [index, worker] of hg.workers.entries()) if (!worker) await hg.startWorker(index)
    await hg.settled(300_000)

    const result = await hg.warehouse.client.query({
      query: `SELECT source_id, sum(events) AS events FROM ${hg.warehouse.table(tables.rollupHourly)}
              WHERE account_id = {accountId:String} GROUP BY source_id ORDER BY source_id`,
      query_params: { accountId },
      format: 'JSONEachRow',
    })
    const rows = z
      .array(z.object({ source_id: z.string(), events: z.coerce.number() }))
      .parse(await result.json())
    const counted = Object.fromEntries(rows.map((r) => [r.source_id, r.events]))
    expect(counted).toEqual(Object.fromEntries([...acknowledged].sort(([a], [b]) => a.localeCompare(b))))
    const raw = await hg.warehouse.client.query({
      query: `SELECT count() AS n, uniqExact(id) AS ids FROM ${hg.warehouse.table(tables.eventsRaw)}
              WHERE account_id = {accountId:String}`,
      query_params: { accountId },
      format: 'JSONEachRow',
    })
    expect(
      z.array(z.object({ n: z.coerce.number(), ids: z.coerce.number() })).parse(await raw.json()),
    ).toEqual([{ n: EVENTS, ids: EVENTS }])
    process.stdout.write(`kills ${kills}, zombies ${zombies}, refused requests re-sent ${refusals}\n`)
  })
})
