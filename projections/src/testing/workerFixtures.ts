import type { ControlStore, NewTelemetryRecord } from '@hourglass/log'
import { STORE_EVENT, TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import { z } from 'zod'
import { defineQuery, noParams } from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'

const HOUR = 3600_000
/** The hour the fixture events start in. */
export const firstHour = Date.UTC(2026, 9, 1)

/** The `i`-th event of a test's series: one of two names, five hours, four skus, 25 users. */
export const fixtureEvent = (i: number, overrides: Partial<TelemetryEvent> = {}): NewTelemetryRecord => {
  const data: TelemetryEvent = {
    id: `evt-${i}`,
    accountId: 'acct-1',
    sourceId: 'src-1',
    name: i % 3 === 0 ? 'purchase' : 'app_open',
    timestamp: firstHour + ((i * 7919) % (5 * HOUR)),
    receivedAt: firstHour + 5 * HOUR,
    attrs: { sku: `sku-${i % 4}`, quantity: 1 + (i % 3) },
    subject: `user-${i % 25}`,
    ...overrides,
  }
  return { stream: telemetryStream(data.sourceId), id: data.id, type: TELEMETRY_EVENT, data }
}

/** Store event `i` of store-1, by a person. */
export const storeEvent = (i: number, personId: string): NewTelemetryRecord => ({
  stream: telemetryStream('store-1'),
  id: `store-evt-${i}`,
  type: STORE_EVENT,
  data: {
    id: `store-evt-${i}`,
    accountId: 'acct-1',
    storeId: 'store-1',
    personId,
    type: 'visit',
    timestamp: firstHour + i * 60_000,
    receivedAt: firstHour,
    data: {},
  },
})

/** The number a test's `SELECT … AS n` answers (0 for no row). */
export const countOf = (db: Warehouse, sql: string) =>
  db
    .select(
      defineQuery({
        name: 'count',
        params: noParams,
        row: z.object({ n: z.coerce.number() }),
        sql: () => sql,
      }),
      {},
    )
    .then((rows) => rows[0]?.n ?? 0)

/** Forty store events of store-1, every other one ana's, the rest bob's. */
export const anaAndBobStoreEvents = () =>
  Array.from({ length: 40 }, (_, i) => storeEvent(i, i % 2 === 0 ? 'ana' : 'bob'))

/** Records the erasure of a person's events at store-1 so far. */
export const eraseStoreEventsOf = (control: Pick<ControlStore, 'appendToStream'>, personId: string) =>
  control.appendToStream(
    `people-store-1-${personId}`,
    [{ type: 'person.events-erased', data: { personId, storeId: 'store-1', at: Date.now() } }],
    'any',
  )
