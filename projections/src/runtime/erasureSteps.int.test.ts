import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type EmbeddedLog } from '@hourglass/log'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { migrateWarehouse } from '../migrations.ts'
import type { Projection } from '../projection.ts'
import { defineQuery, defineStatement, noParams } from '../warehouse/namedStatements.ts'
import { openWarehouse, type Warehouse } from '../warehouse/warehouse.ts'
import { sharedSequenceOrder } from './controlOrder.ts'
import { createControlView } from './controlView.ts'
import { createErasureSteps, type ErasingLane } from './erasureSteps.ts'

/**
 * Erasure coordination on its own: an erasure reaches each partition at its cut, is applied
 * there once per lane, and is reported once every partition has applied it.
 */

const root = mkdtempSync(join(tmpdir(), 'hourglass-erasure-steps-'))
const silent = pino({ level: 'silent' })
const PARTITIONS = 2
const REPORTS = 'erasure_reports_test'
let warehouse: Warehouse
/** A control store of its own to each case (named by the case's topic). */
const logs = new Map<string, EmbeddedLog>()
const logOf = (topic: string) => {
  const log = logs.get(topic) ?? createEmbeddedLog({ path: join(root, topic) })
  logs.set(topic, log)
  return log
}

beforeAll(async () => {
  warehouse = await openWarehouse({ database: 'erasure_steps', embeddedPath: join(root, 'warehouse') })
  await migrateWarehouse(warehouse)
  await warehouse.run(
    defineStatement({
      name: 'erasure reports of the test projection',
      kind: 'schema',
      params: noParams,
      sql: (w) => `CREATE TABLE ${w.table(REPORTS)} (topic String, erasure UInt64, events UInt64)
                   ENGINE = MergeTree ORDER BY (topic, erasure) SETTINGS non_replicated_deduplication_window = 100`,
    }),
    {},
  )
})
afterAll(async () => {
  for (const log of logs.values()) await log.close()
  await warehouse.close()
  rmSync(root, { recursive: true, force: true })
})

const reportsOf = defineQuery({
  name: 'erasure reports of a topic',
  params: z.object({ topic: z.string() }),
  row: z.object({ erasure: z.coerce.number(), events: z.coerce.number() }),
  sql: (w) => `SELECT erasure, events FROM ${w.table(REPORTS)} WHERE topic = {topic:String} ORDER BY erasure`,
})

/** What the test projection was asked to do: one line per `erase` call. */
type Calls = string[]

/** A projection that counts 3 of the person's events in each partition it erases in, and keeps a report. */
const erasingProjection = (topic: string, calls: Calls): Projection => ({
  name: 'erasing',
  version: 1,
  tables: [],
  apply: async () => {},
  reset: async () => {},
  async erase(erasure, context) {
    const owned = ['scope-0', 'scope-1'].filter((scope) => context.ownsScope(scope))
    calls.push(`${erasure.personId} before ${erasure.before} in ${owned.join(',')}`)
    await context.report(3)
  },
  async erasureCompleted(erasure, events, context) {
    await context.insert(REPORTS, [{ topic, erasure: erasure.position, events }])
  },
})

let topics = 0
/** A worker's erasure steps over the control store as it is now, for a log named for the case. */
async function stepsOf(topic: string, projection: Projection) {
  const view = createControlView(logOf(topic).control)
  await view.refresh()
  return createErasureSteps({
    warehouse,
    topic,
    projections: [projection],
    view,
    order: sharedSequenceOrder(),
    partitionCount: PARTITIONS,
    ownsScope: (partition) => (scope) => scope === `scope-${partition}`,
    beforeErase: async () => {},
    logger: silent,
  })
}

/** Appends an erasure to the case's control store; resolves with its position. */
async function erase(
  topic: string,
  type: 'person.erased' | 'person.events-erased',
  personId: string,
): Promise<number> {
  const outcome = await logOf(topic).control.appendToStream(
    `people-test-${personId}`,
    [{ type, data: { personId, storeId: 'store-1', at: Date.now() } }],
    'any',
  )
  if (outcome.status !== 'appended') throw new Error('the erasure was not appended')
  return outcome.firstPosition
}

const lane = (projection: Projection, committed: number, applied = new Set<number>()): ErasingLane => ({
  projection,
  generation: 0,
  committed,
  applied,
})

/** A case of its own: its log's name, the test projection and what it was asked, one erasure of `person`. */
async function givenEventsErased(person: string) {
  const topic = `topic-${++topics}`
  const calls: Calls = []
  const projection = erasingProjection(topic, calls)
  const position = await erase(topic, 'person.events-erased', person)
  return { topic, calls, projection, position }
}

describe('erasure steps', () => {
  it('given an erasure, when a lane is below its cut, then nothing is erased; when it reaches the cut, then the partition erases once, below the cut', async () => {
    const { topic, calls, projection, position } = await givenEventsErased('ana')
    const steps = await stepsOf(topic, projection)
    const laneOf0 = lane(projection, 0)
    expect(await steps.applyDue(0, [laneOf0], position - 1)).toBe(false)
    expect(calls).toEqual([])
    expect(await steps.applyDue(0, [laneOf0], position)).toBe(true)
    expect(await steps.applyDue(0, [laneOf0], position + 10)).toBe(false)
    expect(calls).toEqual([`ana before ${position} in scope-0`])
    // A worker that starts afresh reads the step back, and does not erase again.
    const restarted = await stepsOf(topic, projection)
    const applied = await restarted.appliedIn('erasing@v1', 0, 0)
    expect(applied.has(position)).toBe(true)
    expect(await restarted.applyDue(0, [lane(projection, position, applied)], position + 10)).toBe(false)
    expect(calls).toHaveLength(1)
  })

  it('given an erasure applied in one partition of two, then no report is written; once the other applies it, then one report sums both, whoever completes it', async () => {
    const { topic, calls, projection, position } = await givenEventsErased('ben')
    const serving = new Map([['erasing@v1', 0]])
    const one = await stepsOf(topic, projection)
    const other = await stepsOf(topic, projection)
    await one.applyDue(0, [lane(projection, 0)], position)
    await one.complete(serving)
    expect(await warehouse.select(reportsOf, { topic })).toEqual([])
    await other.applyDue(1, [lane(projection, 0)], position)
    await other.complete(serving)
    await one.complete(serving)
    await (await stepsOf(topic, projection)).complete(serving)
    expect(calls).toEqual([`ben before ${position} in scope-0`, `ben before ${position} in scope-1`])
    expect(await warehouse.select(reportsOf, { topic })).toEqual([{ erasure: position, events: 6 }])
  })

  it('given a lane already past the cut, when its steps are loaded, then the erasure is recorded as applied without erasing again', async () => {
    const { topic, calls, projection, position } = await givenEventsErased('cleo')
    const steps = await stepsOf(topic, projection)
    const past = lane(projection, position + 5)
    expect(await steps.applyDue(0, [past], position + 5)).toBe(false)
    expect(calls).toEqual([])
    expect(past.applied.has(position)).toBe(true)
    expect((await steps.appliedIn('erasing@v1', 0, 0)).has(position)).toBe(true)
  })

  it('given a whole person erased, then every batch from the cut on leaves the person out; erasing only their events does not', async () => {
    const topic = `topic-${++topics}`
    const whole = await erase(topic, 'person.erased', 'dana')
    const events = await erase(topic, 'person.events-erased', 'eli')
    const steps = await stepsOf(topic, erasingProjection(topic, []))
    expect(steps.erasedPeople(0, whole - 1).has('dana')).toBe(false)
    expect(steps.erasedPeople(0, whole).has('dana')).toBe(true)
    expect(steps.erasedPeople(1, events + 1).has('eli')).toBe(false)
  })
})
