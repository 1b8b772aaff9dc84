import { randomUUID } from 'node:crypto'
import { theEyeSourceId } from '@hourglass/control'
import { readingRecord } from '@hourglass/ingest'
import type { NewTelemetryRecord } from '@hourglass/log'
import { TELEMETRY_EVENT, type TelemetryEvent, telemetryStream } from '@hourglass/schemas'
import type { EmbeddedRuntime } from '../embeddedRuntime.ts'
import { bindDevices, createFleet, metricsAt } from './devicesBench.ts'
import { hourglassApi } from './hourglassApi.ts'
import { createLoopbackClient, type LoopbackAnswer, type LoopbackClient } from './loopbackClient.ts'
import {
  loadEvents,
  PER_USER_STATS_PLAN,
  type PerUserStatsPlan,
  prepareApp,
  settle,
} from './perUserStatsBench.ts'
import { createEventFactory, spreadOver } from './producerEvents.ts'
import { receipt, toRecord } from './receiptsBench.ts'

const HOUR_MS = 3600_000
const DAY_MS = 24 * HOUR_MS

/** Sizes of the data the read routes answer from: about a minute to load and project on two cores. */
export const READS_DATA = {
  /** An app's events over the last 30 days, as the core bench's rollup source holds them. */
  appEvents: 120_000,
  appDays: 30,
  /** The Eye: events in sessions, one category rare (about 150 events), the rest common. */
  eyeEvents: 20_000,
  eyeSessions: 50,
  eyeRareEvery: 133,
  eyeDays: 7,
  receipts: 100_000,
  receiptDays: 30,
  /** One device, a reading every five minutes or so over a year. */
  deviceReadings: 100_000,
  /** Per-user statistics: events of one defined event, over 2,000 users. */
  statsEvents: 100_000,
  appendBatch: 10_000,
} as const

export const EYE_RARE_CATEGORY = 'form interaction'
const EYE_COMMON_CATEGORY = 'page interaction'
const EYE_NAMES = ['pageview', 'cta click', 'scroll', 'hover'] as const

const expectStatus = (answer: LoopbackAnswer, status: number, what: string): unknown => {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status}: ${answer.body.slice(0, 300)}`)
  return JSON.parse(answer.body)
}

/** What the read routes need to address the data: tokens, ids and time ranges. */
export interface ReadsDataset {
  readonly now: number
  readonly app: {
    readonly accountId: string
    readonly sourceId: string
    readonly token: string
    readonly apiToken: string
  }
  readonly eye: {
    readonly accountId: string
    readonly sourceId: string
    readonly token: string
    /** The session the by-session list reads, and how many events each category and session holds. */
    readonly session: string
    readonly rareEvents: number
    readonly sessionEvents: number
  }
  readonly receipts: {
    readonly accountId: string
    readonly sourceId: string
    readonly token: string
    readonly place: string
  }
  readonly device: {
    readonly accountId: string
    readonly sourceId: string
    readonly token: string
    readonly deviceId: string
    readonly from: number
    readonly to: number
  }
  readonly stats: {
    readonly accountId: string
    readonly sourceId: string
    readonly jwt: string
    readonly eventCode: string
    readonly name: string
  }
}

async function appendAll(
  runtime: EmbeddedRuntime,
  total: number,
  record: (index: number) => NewTelemetryRecord,
) {
  for (let from = 0; from < total; from += READS_DATA.appendBatch) {
    const count = Math.min(READS_DATA.appendBatch, total - from)
    await runtime.telemetry.appendEvents(Array.from({ length: count }, (_, i) => record(from + i)))
  }
}

/** An app source with the core bench's events, spread over 30 days. */
async function loadApp(runtime: EmbeddedRuntime, client: LoopbackClient, now: number) {
  const api = hourglassApi(client)
  const account = await api.signUp()
  const source = await api.createSource(account, 'reads-app')
  const events = createEventFactory('reads', 7)
  const timeOf = spreadOver(now, READS_DATA.appDays, 7)
  const stream = telemetryStream(source.sourceId)
  await appendAll(runtime, READS_DATA.appEvents, (index) => {
    const event = events.event(index, timeOf(index))
    const data: TelemetryEvent = {
      id: event.id,
      accountId: account.accountId,
      sourceId: source.sourceId,
      name: event.name,
      timestamp: Date.parse(event.timestamp),
      receivedAt: now,
      subject: event.subject,
      session: event.session,
      attrs: event.attrs,
    }
    return { stream, id: event.id, type: TELEMETRY_EVENT, data }
  })
  return {
    accountId: account.accountId,
    sourceId: source.sourceId,
    token: account.token,
    apiToken: source.apiToken,
  }
}

/** The Eye: an account's sessions created over HTTP, then its events appended as ingest would stamp them. */
async function loadTheEye(runtime: EmbeddedRuntime, client: LoopbackClient, now: number) {
  const email = `bench-reads-eye-${randomUUID()}@example.com`
  const password = 'correct horse battery staple'
  const { accountId } = expectStatus(
    await client.send('POST', '/v1/auth/signup', { body: JSON.stringify({ email, password, name: 'Eye' }) }),
    201,
    'sign-up',
  ) as { accountId: string }
  const { token } = expectStatus(
    await client.send('POST', '/compat/the-eye/api-token-auth/', {
      body: JSON.stringify({ username: email, password }),
    }),
    200,
    'The Eye token',
  ) as { token: string }
  const sessions: string[] = []
  for (let s = 0; s < READS_DATA.eyeSessions; s++) {
    const { id } = expectStatus(
      await client.send('POST', '/compat/the-eye/sessions/', { token }),
      201,
      'The Eye session',
    ) as { id: string }
    sessions.push(id)
  }
  const sourceId = theEyeSourceId(accountId)
  const stream = telemetryStream(sourceId)
  const span = READS_DATA.eyeDays * DAY_MS
  let rareEvents = 0
  await appendAll(runtime, READS_DATA.eyeEvents, (index) => {
    const rare = index % READS_DATA.eyeRareEvery === 0
    if (rare) rareEvents++
    const id = `eye-${index.toString(36)}`
    const data: TelemetryEvent = {
      id,
      accountId,
      sourceId,
      name: EYE_NAMES[index % EYE_NAMES.length]!,
      category: rare ? EYE_RARE_CATEGORY : EYE_COMMON_CATEGORY,
      session: sessions[index % sessions.length]!,
      timestamp: now - span + Math.floor((index / READS_DATA.eyeEvents) * span),
      receivedAt: now,
      attrs: { host: 'www.consumeraffairs.com', path: `/products/${index % 97}`, element: 'chat bubble' },
    }
    return { stream, id, type: TELEMETRY_EVENT, data }
  })
  return {
    accountId,
    sourceId,
    token,
    session: sessions[1]!,
    rareEvents,
    sessionEvents: Math.ceil(READS_DATA.eyeEvents / READS_DATA.eyeSessions),
  }
}

/** Receipts of 100 places over 30 days, under one place source of their own account. */
async function loadReceipts(runtime: EmbeddedRuntime, client: LoopbackClient, now: number) {
  const api = hourglassApi(client)
  const account = await api.signUp()
  const { id: sourceId } = expectStatus(
    await client.send('POST', '/v1/sources', {
      token: account.token,
      body: JSON.stringify({ kind: 'place', name: 'reads-receipts' }),
    }),
    201,
    'create place source',
  ) as { id: string }
  const scope = { accountId: account.accountId, sourceId }
  const span = READS_DATA.receiptDays * 24 * 3600
  await appendAll(runtime, READS_DATA.receipts, (index) =>
    toRecord(scope, receipt('reads', index, now - ((index * 7919) % span) * 1000), now),
  )
  return { ...scope, token: account.token, place: 'place-007' }
}

/** One device of a fleet with a year of readings, up to the start of the current hour. */
async function loadDevice(runtime: EmbeddedRuntime, client: LoopbackClient, now: number) {
  const fleet = await createFleet(client)
  const to = Math.floor(now / HOUR_MS) * HOUR_MS
  const from = to - 365 * DAY_MS
  const [device] = await bindDevices(client, runtime.url, fleet, ['reads-device'], 1, from)
  const step = (to - from) / READS_DATA.deviceReadings
  const receivedAt = Date.now()
  await appendAll(runtime, READS_DATA.deviceReadings, (index) => {
    const timestamp = from + Math.floor(index * step)
    return readingRecord(
      device!,
      { id: `reads-${index}`, deviceId: device!.deviceId, timestamp, metrics: metricsAt(timestamp, index) },
      receivedAt,
    )
  })
  return {
    accountId: fleet.accountId,
    sourceId: fleet.sourceId,
    token: fleet.token,
    deviceId: device!.deviceId,
    from,
    to,
  }
}

async function loadStatistics(runtime: EmbeddedRuntime, client: LoopbackClient, note: (m: string) => void) {
  const app = await prepareApp(client)
  const plan: PerUserStatsPlan = {
    ...PER_USER_STATS_PLAN,
    events: READS_DATA.statsEvents,
    appendBatch: READS_DATA.appendBatch,
  }
  await loadEvents(runtime, app, plan, () => {})
  note(`${READS_DATA.statsEvents.toLocaleString('en-US')} events of a defined event appended`)
  return {
    accountId: app.accountId,
    sourceId: app.sourceId,
    jwt: app.jwt,
    eventCode: app.eventCode,
    name: 'number of product views',
  }
}

/**
 * Runs a loader with a client of its own: a kept-alive connection left idle while a large load is
 * appended would be closed by the server under it.
 */
async function withClient<T>(runtime: EmbeddedRuntime, load: (client: LoopbackClient) => Promise<T>) {
  const client = createLoopbackClient(runtime.url, 2)
  try {
    return await load(client)
  } finally {
    client.close()
  }
}

/** Loads every data set straight into the log (HTTP only for accounts, sources, sessions, devices) and waits until projected. */
export async function loadReadsDataset(
  runtime: EmbeddedRuntime,
  note: (message: string) => void,
): Promise<ReadsDataset> {
  const now = Date.now()
  const app = await withClient(runtime, (client) => loadApp(runtime, client, now))
  note(`${READS_DATA.appEvents.toLocaleString('en-US')} app events appended`)
  const eye = await withClient(runtime, (client) => loadTheEye(runtime, client, now))
  note(
    `${READS_DATA.eyeEvents.toLocaleString('en-US')} The Eye events in ${READS_DATA.eyeSessions} sessions appended`,
  )
  const receipts = await withClient(runtime, (client) => loadReceipts(runtime, client, now))
  note(`${READS_DATA.receipts.toLocaleString('en-US')} receipts appended`)
  const device = await withClient(runtime, (client) => loadDevice(runtime, client, now))
  note(`${READS_DATA.deviceReadings.toLocaleString('en-US')} readings of one device over a year appended`)
  const stats = await withClient(runtime, (client) => loadStatistics(runtime, client, note))
  await settle(runtime, note)
  return { now, app, eye, receipts, device, stats }
}
