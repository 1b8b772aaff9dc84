import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import {
  buildKey,
  createWarehouseCheckpointStore,
  loadReplayStates,
  projectionKey,
  tables,
  type Warehouse,
} from '@hourglass/projections'
import type { ApiCall } from '@hourglass/scripts/distributed'
import { type DistributedHourglass, startDistributedHourglass } from '@hourglass/scripts/distributed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  compatPerson,
  createStore,
  expectStoreStatistics,
  STORE_STATS,
  type StoreEventSent,
  type StoreHandle,
} from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Control-plane records in distributed mode: event definitions (per-user statistics) and
 * erasures live in the control store in PostgreSQL, telemetry in Kafka, and the projection workers
 * merge the two. The same flows run against an embedded Hourglass for the expected figures;
 * a replay runs through the CLI while a worker is killed.
 */

const HOUR = 3600_000
const DAY = 24 * HOUR
const base = Date.UTC(2026, 3, 6)
const root = fileURLToPath(new URL('../../', import.meta.url))

let hg: DistributedHourglass
let embedded: TestHourglass
beforeAll(async () => {
  ;[hg, embedded] = await Promise.all([
    startDistributedHourglass({
      brokers: process.env.KAFKA_BROKERS!,
      ingests: 1,
      workers: 2,
      partitions: 4,
      batchSize: 250,
    }),
    startTestHourglass(),
  ])
})
afterAll(async () => {
  await hg?.close()
  await embedded?.close()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const rows = async <T extends z.ZodType>(warehouse: Warehouse, row: T, sql: string, params = {}) => {
  const result = await warehouse.client.query({
    query: sql.replaceAll('{db}', warehouse.database),
    query_params: params,
    format: 'JSONEachRow',
  })
  return z.array(row).parse(await result.json())
}

interface Mode {
  readonly write: ApiCall
  readonly read: ApiCall
  readonly warehouse: Warehouse
  signUp(): Promise<{ token: string; accountId: string }>
  createSource(token: string): Promise<{ id: string; apiToken: string }>
  settled(): Promise<void>
}

const distributed = (): Mode => ({
  write: hg.api(hg.ingest[0]!),
  read: hg.api(hg.query),
  warehouse: hg.warehouse,
  signUp: () => hg.signUp(),
  createSource: (token) => hg.createSource(token, undefined, 'app'),
  settled: () => hg.settled(),
})

const inProcess = (): Mode => ({
  write: embedded.api,
  read: embedded.api,
  warehouse: embedded.runtime.warehouse,
  signUp: () => embedded.signUp(),
  createSource: (token) => embedded.createSource(token, 'app'),
  settled: () => embedded.settled(),
})

const PLAN = {
  events: [
    {
      name: 'purchase',
      attrs: [
        { name: 'product', type: 'string' },
        { name: 'quantity', type: 'integer' },
      ],
    },
    { name: 'view', attrs: [{ name: 'product', type: 'string' }] },
    { name: 'open', attrs: [] },
  ],
}
const SOURCES = 3
const products = ['resistor', 'diode', 'transistor', 'capacitor']

/** The events of source `s`: several users, products and hours, in requests of up to 1,000. */
const eventsOf = (s: number, count: number, offset = 0) =>
  Array.from({ length: count }, (_, j) => {
    const i = j + offset
    const at = base + ((i * 7 + s) % 30) * HOUR + i
    const subject = `user-${(i * 11 + s) % 23}`
    const product = products[(i * 5 + s) % products.length]!
    switch (i % 4) {
      case 0:
      case 1:
        return { name: 'purchase', timestamp: at, subject, attrs: { product, quantity: (i * 13) % 9 } }
      case 2:
        return { name: 'view', timestamp: at, subject, attrs: { product } }
      default:
        return { name: 'open', timestamp: at, subject }
    }
  })

const post = async (mode: Mode, apiToken: string, events: unknown[]) => {
  for (let i = 0; i < events.length; i += 1000) {
    const answer = await mode.write('POST', '/v1/events', {
      token: apiToken,
      body: { events: events.slice(i, i + 1000) },
    })
    expect(answer.status, JSON.stringify(answer.body).slice(0, 500)).toBe(200)
  }
}

/**
 * One account with three apps: events sent before the tracking plan (they must not count),
 * then the plan, then events of every defined name and of an undefined one.
 */
async function perUserStatisticsFlow(mode: Mode) {
  const { token, accountId } = await mode.signUp()
  const sources = []
  for (let s = 0; s < SOURCES; s++) sources.push(await mode.createSource(token))
  for (const [s, source] of sources.entries()) await post(mode, source.apiToken, eventsOf(s, 120))
  // In distributed mode the early events are projected, under control cuts below the plan, first.
  await mode.settled()
  const codes: Record<string, string>[] = []
  for (const source of sources) {
    const defined = await mode.write('POST', `/v1/sources/${source.id}/event-definitions`, {
      token,
      body: PLAN,
    })
    expect(defined.status, JSON.stringify(defined.body)).toBe(201)
    codes.push(
      Object.fromEntries(
        defined
          .json<{ definitions: { name: string; eventCode: string }[] }>()
          .definitions.map((d) => [d.name, d.eventCode]),
      ),
    )
  }
  for (const [s, source] of sources.entries()) {
    await post(mode, source.apiToken, [
      ...eventsOf(s, 2500, 120),
      { name: 'undefined_here', timestamp: base, subject: 'user-1' },
    ])
  }
  await mode.settled()
  return { token, accountId, sources, codes }
}

const StatRow = z.object({
  source_id: z.string(),
  name: z.string(),
  subject: z.string(),
  stat_key: z.string(),
  hour: z.coerce.number(),
  amount: z.coerce.number(),
  events: z.coerce.number(),
})

/** The account's per-user statistics as the warehouse holds them, sources named by their index. */
const statisticsOf = async (mode: Mode, accountId: string, sourceIds: readonly string[]) =>
  (
    await rows(
      mode.warehouse,
      StatRow,
      `SELECT source_id, name, subject, stat_key, toUnixTimestamp(hour) AS hour,
              sum(amount) AS amount, sum(events) AS events
       FROM {db}.${tables.userStatsHourly} WHERE account_id = {accountId:String}
       GROUP BY source_id, name, subject, stat_key, hour
       ORDER BY source_id, name, subject, stat_key, hour`,
      { accountId },
    )
  )
    .map((row) => ({ ...row, source_id: String(sourceIds.indexOf(row.source_id)) }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

const TotalRow = z.object({ source_id: z.string(), events: z.coerce.number(), amount: z.coerce.number() })

/** Every table of the warehouse (materialized views aside), as text. */
async function dumpTables(warehouse: Warehouse) {
  const names = await rows(
    warehouse,
    z.object({ name: z.string() }),
    `SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT IN ('MaterializedView')`,
    { db: warehouse.database },
  )
  const dumps = new Map<string, string>()
  for (const { name } of names) {
    const dump = await warehouse.client.query({
      query: `SELECT * FROM ${warehouse.database}.${name}`,
      format: 'TabSeparated',
    })
    dumps.set(name, await dump.text())
  }
  return dumps
}

/** What each projection's tables add up to: a rebuild must give the same. */
async function rollupsOf(warehouse: Warehouse) {
  const q = (sql: string) => rows(warehouse, z.record(z.string(), z.unknown()), sql)
  return {
    events: {
      rollup: await q(`SELECT account_id, source_id, toUnixTimestamp(hour) AS h, name, sum(events) AS events,
                              uniqExactMerge(subjects) AS subjects, uniqExactMerge(sessions) AS sessions
                       FROM {db}.${tables.rollupHourly} GROUP BY account_id, source_id, h, name
                       ORDER BY account_id, source_id, h, name`),
      raw: await q(`SELECT source_id, count() AS n, uniqExact(id) AS ids, sum(cityHash64(id, subject, name, ts)) AS hash
                    FROM {db}.${tables.eventsRaw} GROUP BY source_id ORDER BY source_id`),
    },
    storeStats: {
      hourly: await q(`SELECT store_id, type, toUnixTimestamp(hour) AS h, sum(events) AS events,
                              sum(duration_sum) AS duration_sum, sum(duration_count) AS duration_count
                       FROM {db}.${tables.storeHourly} GROUP BY store_id, type, h ORDER BY store_id, type, h`),
      erasures: await q(`SELECT position, person_id, events FROM {db}.${tables.storeErasures}
                         ORDER BY position, person_id`),
    },
    userStats: {
      hourly:
        await q(`SELECT source_id, name, subject, stat_key, toUnixTimestamp(hour) AS h, sum(amount) AS amount,
                              sum(events) AS events FROM {db}.${tables.userStatsHourly}
                       GROUP BY source_id, name, subject, stat_key, h ORDER BY source_id, name, subject, stat_key, h`),
      total: await q(`SELECT source_id, name, subject, stat_key, sum(amount) AS amount, sum(events) AS events
                      FROM {db}.${tables.userStatsTotal} GROUP BY source_id, name, subject, stat_key
                      ORDER BY source_id, name, subject, stat_key`),
    },
  }
}

/** The figures of `rollupsOf` without one source's rows. */
const withoutSource = (figures: Awaited<ReturnType<typeof rollupsOf>>, sourceId: string) =>
  JSON.parse(
    JSON.stringify(figures, (_key, value) =>
      Array.isArray(value) ? value.filter((row) => row?.source_id !== sourceId) : value,
    ),
  ) as typeof figures

/** How far generation 1 of a projection has come, over every partition, against the heads. */
async function rebuilt(key: string) {
  const checkpoints = createWarehouseCheckpointStore(hg.warehouse)
  const log = await openKafkaTelemetryLog({ brokers: process.env.KAFKA_BROKERS!.split(','), topic: hg.topic })
  const heads = await log.partitionHeads().finally(() => log.close())
  let committed = 0
  for (const partition of heads.keys()) {
    const checkpoint = await checkpoints.load(key, partition)
    if (checkpoint.generation === 1) committed += checkpoint.committed
  }
  return { committed, heads: heads.reduce((sum, head) => sum + head, 0) }
}

/** `hourglass replay <projection>` against the distributed instance, as an operator runs it. */
function runReplay(projection: string, options: readonly string[] = []) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'scripts/src/cli.ts', 'replay', '--distributed', ...options, projection],
    {
      cwd: root,
      env: {
        ...process.env,
        KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
        KAFKA_TOPIC: hg.topic,
        KAFKA_GROUP_ID: hg.group,
        CLICKHOUSE_URL: hg.warehouseUrl,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, stdout, stderr })),
  )
  return { done }
}

describe('per-user statistics in distributed mode', () => {
  it('equal what embedded mode computes for the same events, definitions and order', async () => {
    const [inDistributed, inEmbedded] = [distributed(), inProcess()]
    const [d, e] = await Promise.all([
      perUserStatisticsFlow(inDistributed),
      perUserStatisticsFlow(inEmbedded),
    ])
    const expected = await statisticsOf(
      inEmbedded,
      e.accountId,
      e.sources.map((s) => s.id),
    )
    const actual = await statisticsOf(
      inDistributed,
      d.accountId,
      d.sources.map((s) => s.id),
    )
    expect(actual.length).toBeGreaterThan(500)
    expect(actual).toEqual(expected)

    // Figures taken from the events sent: only events after the plan count, purchases summed.
    const sent = Array.from({ length: SOURCES }, (_, s) => eventsOf(s, 2500, 120))
    const purchases = sent.flat().filter((event) => event.name === 'purchase')
    const totals = await rows(
      inDistributed.warehouse,
      TotalRow,
      `SELECT name AS source_id, sum(events) AS events, sum(amount) AS amount FROM {db}.${tables.userStatsTotal}
       WHERE account_id = {accountId:String} GROUP BY name ORDER BY name`,
      { accountId: d.accountId },
    )
    const counted = (name: string) => sent.flat().filter((event) => event.name === name).length
    expect(totals).toEqual([
      // Without an integer attribute, each event counts 1.
      { source_id: 'open', events: counted('open'), amount: counted('open') },
      {
        source_id: 'purchase',
        events: purchases.length,
        amount: purchases.reduce((sum, event) => sum + (event.attrs as { quantity: number }).quantity, 0),
      },
      { source_id: 'view', events: counted('view'), amount: counted('view') },
    ])

    // And the query service answers the same statistics as embedded mode.
    const path = (mode: typeof d) =>
      `/v1/sources/${mode.sources[1]!.id}/event-definitions/${mode.codes[1]!.purchase}/user-stats`
    const fromDistributed = await inDistributed.read('GET', path(d), { token: d.token })
    const fromEmbedded = await inEmbedded.read('GET', path(e), { token: e.token })
    expect(fromDistributed.status).toBe(200)
    const { eventCode: _d, ...distributedAnswer } = fromDistributed.json<{ eventCode: string }>()
    const { eventCode: _e, ...embeddedAnswer } = fromEmbedded.json<{ eventCode: string }>()
    expect(distributedAnswer).toMatchObject({
      name: 'purchase',
      keyAttribute: 'product',
      amountAttribute: 'quantity',
    })
    expect(distributedAnswer).toEqual(embeddedAnswer)
  })
})

/** People of the erasure tests, by tag. */
const ids: Record<string, string> = {}

/** No table holds the person's fields; their id only the report of their erasure. */
const expectGoneEverywhere = async (tag: string) => {
  const secrets = Object.values(compatPerson(tag))
    .map(String)
    .filter((value) => value.length > 6)
  for (const [name, text] of await dumpTables(hg.warehouse)) {
    for (const secret of [...secrets, ids[tag]!]) {
      if (name === tables.storeErasures && secret === ids[tag]) continue
      expect(text.includes(secret), `${secret} in ${name}`).toBe(false)
    }
  }
}

describe('erasure in distributed mode', () => {
  const write = () => hg.api(hg.ingest[0]!)
  const read = () => hg.api(hg.query)
  let admin: string
  let store: StoreHandle
  const sent: StoreEventSent[] = []
  const hour = base + 2 * DAY + 15 * HOUR

  const rollup = async () =>
    rows(
      hg.warehouse,
      z.object({ events: z.coerce.number(), subjects: z.coerce.number() }),
      `SELECT sum(events) AS events, uniqExactMerge(subjects) AS subjects FROM {db}.${tables.rollupHourly}
       WHERE source_id = {source:String}`,
      { source: store.id },
    )

  beforeAll(async () => {
    admin = (await hg.signUp()).token
    store = await createStore(write(), admin, 'Shop in Kafka')
    for (const tag of ['ann', 'bob', 'cyd']) {
      const created = await write()('POST', `${STORE_STATS}/api/user`, {
        token: store.token,
        body: compatPerson(tag),
      })
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      ids[tag] = created.json<{ id: string }>().id
    }
    for (let i = 0; i < 90; i++) {
      const who = ['ann', 'bob', 'cyd'][i % 3]!
      const type = ['page_view', 'checkout'][i % 2]!
      const day = base + (i % 4) * DAY
      const duration = i % 5 === 0 ? undefined : (i % 7) + 0.5
      const answer = await write()('POST', '/v1/store-events', {
        token: store.token,
        body: {
          type,
          userId: ids[who],
          timestamp: day + (i % 24) * HOUR,
          data: duration === undefined ? { page: i } : { duration },
        },
      })
      expect(answer.status, JSON.stringify(answer.body)).toBe(201)
      sent.push({ person: who, type, day, ...(duration === undefined ? {} : { duration }) })
    }
    // Telemetry about the people through the generic events API, with their ids as subjects.
    const posted = await write()('POST', '/v1/events', {
      token: store.apiKey,
      body: {
        events: [ids.ann, ids.ann, ids.cyd].map((subject, i) => ({
          name: 'visit',
          timestamp: hour + i * 1000,
          subject,
        })),
      },
    })
    expect(posted.status).toBe(200)
    await hg.settled()
    expect(await rollup()).toEqual([{ events: 3, subjects: 2 }])
    await expectStoreStatistics(read(), store, sent, {
      types: ['page_view', 'checkout'],
      before: '2026-05-01',
    })
  })

  it("erases a person's events so far while a worker is killed, says how many, and counts their new ones", async () => {
    const bobEvents = sent.filter((e) => e.person === 'bob').length
    const answer = write()('DELETE', `/v1/people/${ids.bob}/events`, { token: store.token })
    await sleep(30)
    await hg.killWorker(1)
    const erased = await answer
    await hg.startWorker(1)
    // 200 with the count, or 202 when the workers took longer than ingest waits (a kill costs a rebalance).
    expect([200, 202]).toContain(erased.status)
    const report = async () =>
      rows(
        hg.warehouse,
        z.object({ events: z.coerce.number() }),
        `SELECT events FROM {db}.${tables.storeErasures} WHERE person_id = {person:String}`,
        { person: ids.bob },
      )
    for (let i = 0; i < 120 && (await report()).length === 0; i++) await sleep(250)
    expect(await report()).toEqual([{ events: bobEvents }])
    if (erased.status === 200) expect(erased.body).toEqual({ erasedEvents: bobEvents })
    sent.splice(0, sent.length, ...sent.filter((e) => e.person !== 'bob'))
    await hg.settled()
    await expectStoreStatistics(read(), store, sent, {
      types: ['page_view', 'checkout'],
      before: '2026-05-01',
    })

    // Bob stays: an event of his after the erasure counts.
    const later = await write()('POST', '/v1/store-events', {
      token: store.token,
      body: { type: 'checkout', userId: ids.bob, timestamp: base + HOUR, data: { duration: 2 } },
    })
    expect(later.status).toBe(201)
    sent.push({ person: 'bob', type: 'checkout', day: base, duration: 2 })
    await hg.settled()
    await expectStoreStatistics(read(), store, sent, {
      types: ['page_view', 'checkout'],
      before: '2026-05-01',
    })
  })

  it('erases a person: gone from every table, counts recomputed, and nothing of theirs comes back', async () => {
    const annEvents = sent.filter((e) => e.person === 'ann').length
    const erased = await write()('DELETE', `/v1/people/${ids.ann}`, { token: store.token })
    expect(erased.status, JSON.stringify(erased.body)).toBe(200)
    expect(erased.body).toEqual({ erasedEvents: annEvents })
    sent.splice(0, sent.length, ...sent.filter((e) => e.person !== 'ann'))
    await hg.settled()
    await expectStoreStatistics(read(), store, sent, {
      types: ['page_view', 'checkout'],
      before: '2026-05-01',
    })
    expect(await rollup()).toEqual([{ events: 1, subjects: 1 }])
    await expectGoneEverywhere('ann')

    // Telemetry naming her that reaches Kafka after the erasure is left out by every worker.
    const after = await write()('POST', '/v1/events', {
      token: store.apiKey,
      body: { events: [{ name: 'visit', timestamp: hour + 5000, subject: ids.ann }] },
    })
    expect(after.status).toBe(200)
    await hg.settled()
    expect(await rollup()).toEqual([{ events: 1, subjects: 1 }])
    await expectGoneEverywhere('ann')
  })
})

describe('replay in distributed mode', () => {
  it('rebuilds each projection from offset 0 through the workers, one killed mid-way, to the same rollups', async () => {
    // An app that gets events while the projections are rebuilt, apart from the figures compared.
    const mode = distributed()
    const owner = await mode.signUp()
    const live = await mode.createSource(owner.token)
    const planned = await mode.write('POST', `/v1/sources/${live.id}/event-definitions`, {
      token: owner.token,
      body: PLAN,
    })
    expect(planned.status).toBe(201)
    let liveSent = 0
    await hg.settled()
    const before = await rollupsOf(hg.warehouse)
    expect(before.events.rollup.length).toBeGreaterThan(100)
    expect(before.storeStats.erasures).toHaveLength(2)
    expect(before.userStats.hourly.length).toBeGreaterThan(500)

    let rebuiltAtKill = { committed: 0, heads: 0 }
    for (const projection of ['events', 'store-stats', 'user-stats']) {
      const key = projectionKey({ name: projection, version: 1 })
      const replay = runReplay(projection)
      if (projection === 'user-stats') {
        // Live traffic while it is rebuilt: the rebuilt projection catches up with it.
        for (let request = 0; request < 6; request++) {
          await post(mode, live.apiToken, eventsOf(0, 400, 100_000 + liveSent))
          liveSent += 400
          await sleep(300)
        }
      }
      if (projection === 'events') {
        // A worker killed once the rebuild is under way; it comes back after the rebalance.
        for (let i = 0; i < 400 && (await loadReplayStates(hg.warehouse)).get(key)?.stage !== 'building'; i++)
          await sleep(50)
        await hg.killWorker(0)
        rebuiltAtKill = await rebuilt(buildKey({ name: projection, version: 1 }, 1))
        await sleep(500)
        await hg.startWorker(0)
      }
      const { code, stdout, stderr } = await replay.done
      expect(code, `${stdout}\n${stderr}`).toBe(0)
      if (projection === 'events') {
        // The kill landed in the rebuild, not after it.
        expect(rebuiltAtKill.committed).toBeLessThan(rebuiltAtKill.heads)
      }
      const total = Number(/replayed \S+ \(generation 1\): (\d+)\/(\d+) records/.exec(stdout)?.[2])
      expect(stdout).toContain(`replayed ${projection} (generation 1): ${total}/${total} records`)
      expect(total).toBeGreaterThan(7_500)
      await hg.settled()
      expect(withoutSource(await rollupsOf(hg.warehouse), live.id)).toEqual(before)
    }
    // The events sent during the last rebuild count once, in the events and per-user statistics.
    const liveFigures = await rows(
      hg.warehouse,
      z.object({ events: z.coerce.number(), stats: z.coerce.number() }),
      `SELECT (SELECT sum(events) FROM {db}.${tables.rollupHourly} WHERE source_id = {source:String}) AS events,
              (SELECT sum(events) FROM {db}.${tables.userStatsTotal} WHERE source_id = {source:String}) AS stats`,
      { source: live.id },
    )
    expect(liveFigures).toEqual([{ events: liveSent, stats: liveSent }])
    // The rebuilt tables honour the erasures recorded so far.
    await expectGoneEverywhere('ann')
  })

  it('cancels a rebuild through the workers: its tables go once they have dropped its lane, the replay exits 1, the serving rollups stay', async () => {
    const key = projectionKey({ name: 'events', version: 1 })
    // Records for the build to read: it cannot reach its target while no worker runs.
    const mode = distributed()
    const owner = await mode.signUp()
    const source = await mode.createSource(owner.token)
    await post(mode, source.apiToken, eventsOf(0, 400, 200_000))
    await hg.settled()
    const before = await rollupsOf(hg.warehouse)
    // No worker runs while the build is started and cancelled: it cannot finish first.
    await hg.killWorker(0)
    await hg.killWorker(1)
    const replay = runReplay('events')
    for (let i = 0; i < 400 && (await loadReplayStates(hg.warehouse)).get(key)?.stage !== 'building'; i++)
      await sleep(50)
    const cancel = await runReplay('events', ['--cancel']).done
    const cancelled = (await loadReplayStates(hg.warehouse)).get(key)
    await hg.startWorker(0)
    await hg.startWorker(1)
    const { code, stdout, stderr } = await replay.done
    await hg.settled()
    const builtLeft = await rows(
      hg.warehouse,
      z.object({ n: z.coerce.number() }),
      `SELECT count() AS n FROM system.tables WHERE database = {database:String} AND endsWith(name, {suffix:String})`,
      { database: hg.warehouse.database, suffix: `__g${cancelled?.generation}` },
    )

    expect(cancel.stdout, cancel.stderr).toContain(
      'cancelled the rebuild of events: the serving generation stays',
    )
    expect(cancelled?.stage).toBe('cancelled')
    expect(code, `${stdout}\n${stderr}`).toBe(1)
    expect(stdout).toContain('the rebuild of events was cancelled')
    expect(builtLeft).toEqual([{ n: 0 }])
    expect(await rollupsOf(hg.warehouse)).toEqual(before)
  })
})
