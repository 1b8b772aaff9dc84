/**
 * The distributed part of `npm run bench`: end-to-end events/s (from the first request to the
 * last event being in the warehouse) through Kafka with one and with two projection workers,
 * beside embedded mode driven by the same load in the same run. Every service is its own
 * process on this machine, so they share its cores with the broker and the load generator.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { projections } from '@hourglass/projections'
import { pino } from 'pino'
import { startDistributedHourglass } from '../distributed/localDeployment.ts'
import { caughtUp, startEmbedded } from '../embeddedRuntime.ts'
import { type LocalKafka, startLocalKafka } from '../kafka/localKafka.ts'
import { hourglassApi } from './hourglassApi.ts'
import { createLoopbackClient } from './loopbackClient.ts'

const PLAN = { events: 100_000, batchSize: 500, concurrency: 8, sources: 8, partitions: 4 } as const

interface ModeResult {
  readonly mode: string
  /** Events acknowledged per second, over the sending alone. */
  readonly ingestRate: number
  /** Events per second from the first request until the last event was in the warehouse. */
  readonly endToEndRate: number
}

/** Sends the plan's events through an ingest URL; resolves with the seconds it took. */
async function drive(ingestUrl: string) {
  const client = createLoopbackClient(ingestUrl, PLAN.concurrency)
  const api = hourglassApi(client)
  const account = await api.signUp()
  const sources: Awaited<ReturnType<typeof api.createSource>>[] = []
  for (let i = 0; i < PLAN.sources; i++) sources.push(await api.createSource(account, `bench-${i}`))
  const started = performance.now()
  const now = Date.now()
  let next = 0
  const requests = PLAN.events / PLAN.batchSize
  const lane = async () => {
    for (;;) {
      const request = next++
      if (request >= requests) return
      const events = Array.from({ length: PLAN.batchSize }, (_, i) => ({
        id: `b-${request}-${i}`,
        name: i % 5 ? 'view' : 'buy',
        timestamp: now - ((request * PLAN.batchSize + i) % 3600) * 1000,
        subject: `u${i % 211}`,
      }))
      const answer = await api.postEvents(sources[request % PLAN.sources]!, JSON.stringify({ events }))
      if (answer.status !== 200) throw new Error(`events refused: ${answer.status} ${answer.body}`)
    }
  }
  await Promise.all(Array.from({ length: PLAN.concurrency }, lane))
  client.close()
  return { started, sent: performance.now() }
}

async function embedded(): Promise<ModeResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-bench-embedded-'))
  const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn' })
  const runtime = await startEmbedded(config, pino({ level: 'warn' }))
  try {
    const { started, sent } = await drive(runtime.url)
    await caughtUp(runtime)
    const done = performance.now()
    return {
      mode: `embedded (${projections.length} projections)`,
      ingestRate: PLAN.events / ((sent - started) / 1000),
      endToEndRate: PLAN.events / ((done - started) / 1000),
    }
  } finally {
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function distributed(brokers: string, workers: number): Promise<ModeResult> {
  const hg = await startDistributedHourglass({
    brokers,
    ingests: 1,
    workers,
    partitions: PLAN.partitions,
    batchSize: 10_000,
  })
  try {
    const { started, sent } = await drive(hg.ingest[0]!.url)
    await hg.settled(300_000)
    const done = performance.now()
    return {
      mode: `Kafka, ${workers} worker${workers > 1 ? 's' : ''} (${projections.length} projections)`,
      ingestRate: PLAN.events / ((sent - started) / 1000),
      endToEndRate: PLAN.events / ((done - started) / 1000),
    }
  } finally {
    await hg.close()
  }
}

export async function runDistributedBench(
  note: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
) {
  if (process.env.HOURGLASS_BENCH_DISTRIBUTED === 'false') return
  note('\n== distributed mode (Kafka) beside embedded mode, same load ==')
  note(
    `${PLAN.events.toLocaleString('en-US')} events in batches of ${PLAN.batchSize}, ${PLAN.concurrency} concurrent ` +
      `requests, ${PLAN.sources} sources, ${PLAN.partitions} partitions; services are separate processes sharing this machine.`,
  )
  let kafka: LocalKafka | null = null
  const results: ModeResult[] = []
  try {
    results.push(await embedded())
    let brokers = process.env.KAFKA_BROKERS
    if (!brokers) {
      note('starting a local Kafka broker (scripts/src/kafka/localKafka.ts)…')
      kafka = await startLocalKafka({ defaultPartitions: PLAN.partitions })
      brokers = kafka.brokers
    }
    results.push(await distributed(brokers, 1))
    results.push(await distributed(brokers, 2))
  } catch (error) {
    note(`distributed mode not measured: ${(error as Error).message}`)
  } finally {
    await kafka?.destroy()
  }
  const width = Math.max(...results.map((r) => r.mode.length), 4)
  note(`${'mode'.padEnd(width)}  ingest events/s  end-to-end events/s`)
  for (const r of results) {
    note(
      `${r.mode.padEnd(width)}  ${Math.round(r.ingestRate).toLocaleString('en-US').padStart(15)}  ${Math.round(r.endToEndRate).toLocaleString('en-US').padStart(19)}`,
    )
  }
  return results
}

if (import.meta.url === `file://${process.argv[1]}`) await runDistributedBench()
