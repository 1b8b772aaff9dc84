import { parseArgs } from 'node:util'
import { ConfigError, type EmbeddedConfig, loadEmbeddedConfig } from '@hourglass/control'
import {
  type BuildingStatus,
  projections,
  type QuarantinedRecord,
  type RedriveOutcome,
  secondsLeft,
} from '@hourglass/projections'
import { SingleBar } from 'cli-progress'
import { pino } from 'pino'
import type { AdminStatus } from './adminRoutes.ts'
import { createCliLogger } from './cliOutput/cliLogger.ts'
import { type Column, formatTable } from './cliOutput/table.ts'
import { cancelDistributed, replayDistributed } from './distributed/distributedReplay.ts'
import { distributedCommands, isDistributedCommand, runService } from './distributed/serviceMain.ts'
import {
  cancelEmbedded,
  openEmbeddedStorage,
  quarantineOperations,
  replayEmbedded,
  startEmbedded,
} from './embeddedRuntime.ts'
import { stopOnSignals } from './gracefulStop.ts'
import { createOperatorClient, NotRunningError } from './operatorClient.ts'

const USAGE = `hourglass — event analytics on an immutable log

Usage:
  hourglass start                  run ingest, projections and query on one port (embedded mode)
  hourglass status                 log head, and each projection's checkpoint and lag
  hourglass replay <projection>    rebuild a projection from position 0 beside the serving tables, then switch
                                   to it (projections: ${projections.map((p) => p.name).join(', ')})
  hourglass replay --cancel <projection>
                                   abandon a rebuild that has not begun to switch; the serving tables stay
  hourglass quarantine list|retry|drop [--projection <name@vN>] [--position <n>] [--repair]
                                   records a projection could not apply: list them, apply them again
                                   (--repair: make their strings well-formed first), or give them up
  hourglass replay --distributed <projection>
                                   distributed mode: rebuild it through the running \`hourglass project\`
                                   workers, from offset 0 of every partition (their KAFKA_* and CLICKHOUSE_*)
  hourglass replay --cancel --distributed <projection>
                                   distributed mode: abandon that rebuild (their CLICKHOUSE_*)

Configuration comes from environment variables: PORT (8080), HOST (127.0.0.1),
HOURGLASS_DATA_DIR (./data), CLICKHOUSE_URL (unset: ClickHouse in-process), LOG_LEVEL (info).
status and replay talk to the Hourglass running on PORT, or open the data folder when none runs.
${distributedCommands}`

const out = (line: string) => process.stdout.write(`${line}\n`)

async function start(config: EmbeddedConfig) {
  const logger = createCliLogger({ level: config.logLevel, redact: ['req.headers.authorization'] })
  const runtime = await startEmbedded(config, logger)
  logger.info(
    { url: runtime.url, dataDir: config.dataDir, docs: `${runtime.url}/docs` },
    'Hourglass is ready',
  )
  stopOnSignals(logger, () => runtime.close())
}

const STATUS_COLUMNS: readonly Column[] = [
  { header: 'projection' },
  { header: 'committed', align: 'right' },
  { header: 'lag', align: 'right' },
  { header: 'serving generation', align: 'right' },
  { header: 'quarantined', align: 'right' },
  { header: 'state' },
]

const projectionRow = (p: AdminStatus['projections'][number]) => [
  p.key,
  String(p.committed),
  String(p.lag),
  String(p.generation),
  String(p.quarantined),
  `${p.running ? 'running' : 'stopped'}${p.stalledSince ? `, stalled since ${p.stalledSince}` : ''}` +
    `${p.lastError ? `  error: ${p.lastError}` : ''}`,
]

function printStatus(status: AdminStatus) {
  out(`log head: ${status.log.head}`)
  for (const line of formatTable(STATUS_COLUMNS, status.projections.map(projectionRow))) out(line)
  // A generation being built beside the serving one: where it stands, its rate and ETA.
  for (const p of status.projections) if (p.building) out(`${p.key}  ${describeBuilding(p.building)}`)
}

/** Seconds left, as `status` and the progress line show them: "unknown" before anything has moved. */
const etaText = (seconds: number | null) => (seconds === null ? 'unknown' : `${seconds} s`)

/** A generation being built, as one line: where it stands, how fast it goes, when it will be done. */
export function describeBuilding(building: BuildingStatus): string {
  const percent = building.head === 0 ? 100 : Math.floor((100 * building.committed) / building.head)
  return (
    `${building.stage} generation ${building.generation}: ${building.committed}/${building.head} records ` +
    `(${percent}%)  ${building.rate} records/s  eta ${etaText(building.etaSeconds)}`
  )
}

/** Offline: the data folder opened by this command, for when no Hourglass runs on it. */
async function withStorage<T>(
  config: EmbeddedConfig,
  work: (storage: Awaited<ReturnType<typeof openEmbeddedStorage>>) => Promise<T>,
) {
  const storage = await openEmbeddedStorage(config, pino({ level: 'warn' }))
  try {
    return await work(storage)
  } finally {
    await storage.close()
  }
}

async function status(config: EmbeddedConfig) {
  const client = createOperatorClient(config)
  try {
    printStatus(await client.status())
  } catch (error) {
    if (!(error instanceof NotRunningError)) throw error
    out(`(${error.message}: reading ${config.dataDir} directly)`)
    await withStorage(config, async (storage) => {
      printStatus({
        log: { head: await storage.telemetry.head() },
        projections: await storage.worker.status(),
        replay: null,
      })
    })
  }
}

function progressBar(projection: string) {
  const bar = new SingleBar({
    format: `replay ${projection} [{bar}] {percentage}% | {value}/{total} records | {rate} records/s | eta {etaText}`,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    noTTYOutput: true,
    notTTYSchedule: 2000,
  })
  const started = Date.now()
  return {
    start: (total: number) => bar.start(total, 0, { rate: 0, etaText: 'unknown' }),
    update: (value: number, total: number) => {
      const rate = value / Math.max(0.001, (Date.now() - started) / 1000)
      bar.setTotal(total)
      bar.update(value, { rate: Math.round(rate), etaText: etaText(secondsLeft(total - value, rate)) })
    },
    stop: () => bar.stop(),
  }
}

async function replay(config: EmbeddedConfig, projection: string | undefined) {
  if (!projection || !projections.some((p) => p.name === projection)) {
    throw new Error(`name a projection to replay: ${projections.map((p) => p.name).join(', ')}`)
  }
  const bar = progressBar(projection)
  const client = createOperatorClient(config)
  const started = Date.now()
  let last = { committed: 0, target: 0 }
  let cancelled = false
  try {
    const state = await client.startReplay(projection)
    bar.start(state.target)
    for (;;) {
      const { replay: now } = await client.status()
      if (!now) throw new Error('the server lost track of the replay')
      last = now
      bar.update(now.committed, now.target)
      if (now.error) throw new Error(`replay failed: ${now.error}`)
      if (now.finishedAt) {
        cancelled = now.cancelled
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  } catch (error) {
    if (!(error instanceof NotRunningError)) throw error
    out(`(${error.message}: replaying in ${config.dataDir} directly)`)
    await withStorage(config, async (storage) => {
      bar.start(await storage.telemetry.head())
      // The worker of this process lets go of the projection and rebuilds it.
      await storage.worker.start()
      const result = await replayEmbedded(storage, projection, (progress) => {
        last = progress
        bar.update(progress.committed, progress.target)
      })
      cancelled = !result.switched
    })
  }
  bar.stop()
  const seconds = (Date.now() - started) / 1000
  if (cancelled) return saidCancelled(projection, seconds)
  out(
    `replayed ${projection}: ${last.committed}/${last.target} records in ${seconds.toFixed(1)} s ` +
      `(${Math.round(last.committed / Math.max(seconds, 0.001))} records/s)`,
  )
}

/** A replay whose build was cancelled meanwhile: not what was asked for, so a script can tell (exit 1). */
function saidCancelled(projection: string, seconds: number) {
  process.exitCode = 1
  out(
    `the rebuild of ${projection} was cancelled after ${seconds.toFixed(1)} s: the serving generation stays`,
  )
}

/** What a cancel did, as the operator reads it. */
const cancelOutcome = (projection: string, cancelled: boolean) =>
  cancelled
    ? `cancelled the rebuild of ${projection}: the serving generation stays`
    : `no rebuild of ${projection} is under way`

/** Distributed mode: records the build as cancelled; the workers drop its lane. */
async function cancelThroughWorkers(projection: string | undefined, env: Record<string, string | undefined>) {
  out(cancelOutcome(projection ?? '', await cancelDistributed(projection ?? '', env)))
}

async function cancel(config: EmbeddedConfig, projection: string | undefined) {
  if (!projection || !projections.some((p) => p.name === projection)) {
    throw new Error(`name a projection to cancel: ${projections.map((p) => p.name).join(', ')}`)
  }
  let cancelled: boolean
  try {
    cancelled = await createOperatorClient(config).cancelReplay(projection)
  } catch (error) {
    if (!(error instanceof NotRunningError)) throw error
    cancelled = await withStorage(config, (storage) => cancelEmbedded(storage, projection))
  }
  out(cancelOutcome(projection, cancelled))
}

interface QuarantineArgs {
  readonly projection?: string | undefined
  readonly position?: number | undefined
  readonly repair?: boolean | undefined
}

function printQuarantined(records: readonly QuarantinedRecord[]) {
  if (records.length === 0) out('no quarantined records')
  for (const r of records) {
    out(
      `${r.projection.padEnd(20)} ${r.topic}/${r.partition}@${r.position}  ${r.status.padEnd(7)}  ` +
        `${r.recordType} ${r.stream} ${JSON.stringify(r.recordId)}  attempts ${r.attempts}  ${r.errorCode}: ${r.errorMessage}`,
    )
  }
}

function printOutcomes(outcomes: readonly RedriveOutcome[]) {
  if (outcomes.length === 0) out('no held records to retry')
  for (const o of outcomes)
    out(`${o.projection.padEnd(20)} @${o.position}  ${o.status}${o.error ? `  ${o.error}` : ''}`)
}

/** `hourglass quarantine list|retry|drop`: through the running Hourglass, else on the data folder. */
async function quarantine(config: EmbeddedConfig, action: string | undefined, args: QuarantineArgs) {
  if (action !== 'list' && action !== 'retry' && action !== 'drop') {
    throw new Error('name a quarantine action: list, retry or drop')
  }
  if (args.repair && action !== 'retry') throw new Error('--repair goes with retry only')
  const filter = {
    ...(args.projection ? { projection: args.projection } : {}),
    ...(args.position !== undefined ? { position: args.position } : {}),
  }
  const client = createOperatorClient(config)
  try {
    if (action === 'list') return printQuarantined((await client.quarantined(filter)).records)
    if (action === 'retry')
      return printOutcomes(
        (await client.retryQuarantined({ ...filter, repair: args.repair === true })).outcomes,
      )
    return printQuarantined((await client.dropQuarantined(filter)).dropped)
  } catch (error) {
    if (!(error instanceof NotRunningError)) throw error
    out(`(${error.message}: working in ${config.dataDir} directly)`)
  }
  await withStorage(config, async (storage) => {
    const operations = quarantineOperations(storage)
    if (action === 'list') return printQuarantined(await operations.list(filter))
    if (action === 'drop') return printQuarantined(await operations.drop(filter))
    // The worker of this process holds the log's partition and re-drives between its batches.
    await storage.worker.start()
    printOutcomes(await operations.retry({ ...filter, repair: args.repair === true }))
  })
}

const positionArg = (value: string | undefined) => {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value))
    throw new Error(`--position must be a log position (a whole number), not "${value}"`)
  return Number(value)
}

/** Distributed mode: the workers rebuild the projection; this asks them to and follows them. */
async function replayThroughWorkers(projection: string | undefined, env: Record<string, string | undefined>) {
  const logger = pino({ level: env.LOG_LEVEL ?? 'warn' }, pino.destination(2))
  const bar = progressBar(projection ?? '')
  const started = Date.now()
  let waitingSaid = -1
  let barStarted = false
  const result = await replayDistributed(projection ?? '', env, logger, {
    onWaiting: ({ acknowledged, members }) => {
      if (acknowledged === members || acknowledged === waitingSaid) return
      waitingSaid = acknowledged
      out(`waiting for the workers to stop ${projection}: ${acknowledged}/${members}`)
    },
    onProgress: ({ committed, target }) => {
      if (!barStarted) bar.start(target)
      barStarted = true
      bar.update(committed, target)
    },
  })
  bar.stop()
  const seconds = (Date.now() - started) / 1000
  if (!result.switched) return saidCancelled(projection ?? '', seconds)
  out(
    `replayed ${projection} (generation ${result.generation}): ${result.committed}/${result.target} records ` +
      `in ${seconds.toFixed(1)} s (${Math.round(result.committed / Math.max(seconds, 0.001))} records/s)`,
  )
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      distributed: { type: 'boolean' },
      cancel: { type: 'boolean' },
      projection: { type: 'string' },
      position: { type: 'string' },
      repair: { type: 'boolean' },
    },
  })
  const [command, ...rest] = positionals
  if (values.help || !command || command === 'help') return out(USAGE)
  if (isDistributedCommand(command)) return runService(command, process.env)
  if (command === 'replay' && values.distributed)
    return values.cancel
      ? cancelThroughWorkers(rest[0], process.env)
      : replayThroughWorkers(rest[0], process.env)
  const config = loadEmbeddedConfig(process.env)
  switch (command) {
    case 'start':
      return start(config)
    case 'status':
      return status(config)
    case 'replay':
      return values.cancel ? cancel(config, rest[0]) : replay(config, rest[0])
    case 'quarantine':
      return quarantine(config, rest[0], {
        projection: values.projection,
        position: positionArg(values.position),
        repair: values.repair,
      })
    default:
      throw new Error(`unknown command "${command}"\n\n${USAGE}`)
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `hourglass: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`,
  )
  process.exit(1)
})
