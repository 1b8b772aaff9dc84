import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { openKafkaTelemetryLog } from '@hourglass/log/kafka'
import { openPostgresPool } from '@hourglass/log/postgres'
import { testPostgresUrl } from '@hourglass/log/postgres/testing'
import {
  createWarehouseCheckpointStore,
  openWarehouse,
  projectionKey,
  projections,
  type Warehouse,
} from '@hourglass/projections'
import {
  type ApiAnswer,
  type ApiCall,
  type ApiMethod,
  type ApiRequestOptions,
  apiAnswer,
} from './apiClient.ts'

/**
 * Hourglass in distributed mode for tests: every service a real process started through the
 * CLI (`hourglass ingest|project|query`, and the warehouse stand-in), talking over loopback
 * HTTP, a real Kafka broker and a real PostgreSQL. Each instance has its own topic, consumer
 * group, PostgreSQL schema and data folder.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url))
const cli = join(root, 'scripts', 'src', 'cli.ts')
const standInMain = fileURLToPath(new URL('./warehouseStandInMain.ts', import.meta.url))

export interface ServiceProcess {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  /** Resolves when the process has exited (for whatever reason). */
  readonly exited: Promise<number | null>
  /** Its latest log lines (and anything on stderr), for a failing test to show. */
  recentLog(): string
}

/** Log lines kept per service. */
const RECENT_LINES = 40

export interface DistributedOptions {
  readonly brokers: string
  readonly ingests?: number
  readonly workers?: number
  readonly partitions?: number
  readonly batchSize?: number
  /** The PostgreSQL of the control plane (default: the tests', see testPostgresUrl). */
  readonly postgresUrl?: string
  /** Extra environment for every service. */
  readonly env?: Record<string, string>
}

export interface DistributedHourglass {
  /** The data folder of the warehouse stand-in. */
  readonly dataDir: string
  /** Where the control plane is: the PostgreSQL and the schema of this instance. */
  readonly postgres: { readonly url: string; readonly schema: string }
  /** HOURGLASS_MASTER_KEY of this instance. */
  readonly masterKey: string
  readonly topic: string
  readonly group: string
  readonly ingest: ServiceProcess[]
  readonly workers: (ServiceProcess | null)[]
  readonly query: ServiceProcess
  readonly warehouseUrl: string
  /** A client of the shared warehouse, for checks. */
  readonly warehouse: Warehouse
  request(
    service: ServiceProcess,
    method: ApiMethod,
    path: string,
    options?: ApiRequestOptions & { timeoutMs?: number },
  ): Promise<ApiAnswer & { ms: number; headers: Record<string, string> }>
  /** Requests to one service, for flows shared with embedded mode. */
  api(service: ServiceProcess): ApiCall
  signUp(via?: ServiceProcess): Promise<{ token: string; accountId: string; email: string; password: string }>
  createSource(token: string, via?: ServiceProcess, kind?: string): Promise<{ id: string; apiToken: string }>
  /** Starts one more ingest process beside the others. */
  startIngest(): Promise<ServiceProcess>
  /** Starts (again) worker `index`. */
  startWorker(index: number): Promise<ServiceProcess>
  /** SIGKILLs worker `index` and waits for it to be gone. */
  killWorker(index: number): Promise<void>
  /** Resolves once every projection of the workers has every record of every partition in the warehouse. */
  settled(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

const started = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL')
})

/** Starts one service and resolves with its URL once it says it is ready. */
export async function startService(
  name: string,
  env: Record<string, string>,
  timeoutMs = 90_000,
): Promise<ServiceProcess> {
  // The warehouse is the chDB stand-in, a process of its own; the rest are `hourglass <service>`.
  const entry = name === 'warehouse' ? [standInMain] : [cli, name]
  const child = spawn(process.execPath, ['--import', 'tsx', ...entry], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      started.delete(child)
      resolve(code)
    }),
  )
  let output = ''
  const recent: string[] = []
  const keep = (line: string) => {
    recent.push(line)
    if (recent.length > RECENT_LINES) recent.shift()
  }
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000)
    keep(chunk.toString().trimEnd())
    if (process.env.HOURGLASS_TEST_SERVICE_LOGS) process.stderr.write(`[${name}] ${chunk.toString()}`)
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    )
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      output = `${output}\n${line}`.slice(-4000)
      keep(line)
      if (line.includes('Hourglass service is ready')) {
        clearTimeout(timer)
        resolve((JSON.parse(line) as { url: string }).url)
      } else if (process.env.HOURGLASS_TEST_SERVICE_LOGS && /"level":(40|50|60)/.test(line)) {
        process.stderr.write(`[${name}] ${line}\n`)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`))
    })
  })
  return { name, url, child, exited, recentLog: () => recent.join('\n') }
}

const stopService = async (service: ServiceProcess | null) => {
  if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return
  service.child.kill('SIGTERM')
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 15_000)
  await service.exited
  clearTimeout(timer)
}

export async function startDistributedHourglass(options: DistributedOptions): Promise<DistributedHourglass> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-distributed-'))
  const id = randomUUID().slice(0, 8)
  const topic = `analytics-data.raw.test-${id}`
  const group = `hourglass-projections-${id}`
  const jwtSecret = randomBytes(32).toString('base64url')
  const masterKey = randomBytes(32).toString('base64url')
  const postgres = { url: options.postgresUrl ?? testPostgresUrl(), schema: `hg_test_${id}` }
  const postgresEnv = {
    HOURGLASS_POSTGRES_URL: postgres.url,
    HOURGLASS_POSTGRES_SCHEMA: postgres.schema,
    HOURGLASS_POSTGRES_POOL_SIZE: '4',
  }
  const all: ServiceProcess[] = []
  const workers: (ServiceProcess | null)[] = []
  const keep = (service: ServiceProcess) => {
    all.push(service)
    return service
  }
  try {
    const warehouseService = keep(
      await startService('warehouse', { PORT: '0', HOURGLASS_DATA_DIR: dataDir, ...options.env }),
    )
    const kafkaEnv = {
      KAFKA_BROKERS: options.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_PARTITIONS: String(options.partitions ?? 4),
    }
    // Ingest and query open people's fields: they hold the master key; workers do not.
    const accountsEnv = {
      ...postgresEnv,
      HOURGLASS_MASTER_KEY: masterKey,
      HOURGLASS_JWT_SECRET: jwtSecret,
    }
    const workerEnv = {
      ...kafkaEnv,
      PORT: '0',
      CLICKHOUSE_URL: warehouseService.url,
      // Definitions and erasures come from the control store in PostgreSQL.
      ...postgresEnv,
      KAFKA_GROUP_ID: group,
      HOURGLASS_PROJECTION_BATCH_SIZE: String(options.batchSize ?? 2000),
      HOURGLASS_KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...options.env,
    }
    // The first ingest creates the topic; the other services then find it.
    const ingestEnv = {
      PORT: '0',
      ...kafkaEnv,
      ...accountsEnv,
      CLICKHOUSE_URL: warehouseService.url,
      ...options.env,
    }
    const ingest: ServiceProcess[] = [keep(await startService('ingest', ingestEnv))]
    const queryStarting = startService('query', {
      PORT: '0',
      ...kafkaEnv,
      ...accountsEnv,
      CLICKHOUSE_URL: warehouseService.url,
      ...options.env,
    })
    const moreIngest = Promise.all(
      Array.from({ length: (options.ingests ?? 2) - 1 }, () => startService('ingest', ingestEnv)),
    )
    workers.push(
      ...(await Promise.all(
        Array.from({ length: options.workers ?? 2 }, () => startService('project', workerEnv)),
      )),
    )
    ingest.push(...(await moreIngest).map(keep))
    const query = keep(await queryStarting)
    const warehouse = await openWarehouse({ url: warehouseService.url, database: 'hourglass' })
    const telemetry = await openKafkaTelemetryLog({ brokers: options.brokers.split(','), topic })
    const checkpoints = createWarehouseCheckpointStore(warehouse)

    const request: DistributedHourglass['request'] = async (service, method, path, requestOptions = {}) => {
      const started = performance.now()
      const response = await fetch(`${service.url}${path}`, {
        method,
        headers: {
          ...(requestOptions.token ? { authorization: `Bearer ${requestOptions.token}` } : {}),
          ...(requestOptions.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...requestOptions.headers,
        },
        ...(requestOptions.body !== undefined ? { body: JSON.stringify(requestOptions.body) } : {}),
        signal: AbortSignal.timeout(requestOptions.timeoutMs ?? 30_000),
      })
      return {
        ...apiAnswer(response.status, await response.text()),
        headers: Object.fromEntries(response.headers),
        ms: performance.now() - started,
      }
    }
    const expectStatus = <T>(result: { status: number; body: unknown }, status: number) => {
      if (result.status !== status)
        throw new Error(`expected ${status}, got ${result.status}: ${JSON.stringify(result.body)}`)
      return result.body as T
    }

    const instance: DistributedHourglass = {
      dataDir,
      postgres,
      masterKey,
      topic,
      group,
      ingest,
      workers,
      query,
      warehouseUrl: warehouseService.url,
      warehouse,
      request,
      api: (service) => (method, path, options) => request(service, method, path, options),
      async signUp(via = ingest[0]!) {
        const email = `user-${randomUUID()}@example.com`
        const password = 'correct horse battery'
        const body = expectStatus<{ token: string; accountId: string }>(
          await request(via, 'POST', '/v1/auth/signup', { body: { email, password, name: 'Test' } }),
          201,
        )
        return { token: body.token, accountId: body.accountId, email, password }
      },
      async createSource(token, via = ingest[0]!, kind = 'app') {
        return expectStatus<{ id: string; apiToken: string }>(
          await request(via, 'POST', '/v1/sources', {
            token,
            body: { kind, name: `source-${randomUUID()}` },
          }),
          201,
        )
      },
      async startIngest() {
        const more = keep(await startService('ingest', ingestEnv))
        ingest.push(more)
        return more
      },
      async startWorker(index) {
        const worker = await startService('project', workerEnv)
        workers[index] = worker
        return worker
      },
      async killWorker(index) {
        const worker = workers[index]
        if (!worker) return
        worker.child.kill('SIGKILL')
        await worker.exited
        workers[index] = null
      },
      async settled(timeoutMs = 180_000) {
        const deadline = Date.now() + timeoutMs
        const keys = projections.map(projectionKey)
        for (;;) {
          const heads = await telemetry.partitionHeads()
          const behind: string[] = []
          for (const key of keys) {
            for (const [partition, head] of heads.entries()) {
              const { committed } = await checkpoints.load(key, partition)
              if (committed < head) behind.push(`${key} partition ${partition}: ${committed}/${head}`)
            }
          }
          if (behind.length === 0) return
          if (Date.now() > deadline) {
            const logs = workers.map((worker, i) => `[worker ${i}]\n${worker?.recentLog() ?? '(stopped)'}`)
            throw new Error(
              `projections did not catch up: ${behind.join(', ')}\nthe workers' latest log lines:\n${logs.join('\n')}`,
            )
          }
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
      },
      async close() {
        await Promise.all(workers.map((worker) => stopService(worker)))
        for (const service of all.reverse()) await stopService(service)
        await telemetry.close()
        await warehouse.close()
        await dropSchema(postgres)
        rmSync(dataDir, { recursive: true, force: true })
      },
    }
    return instance
  } catch (error) {
    for (const service of [...workers, ...all.reverse()]) await stopService(service)
    await dropSchema(postgres).catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

/** Drops the instance's schema: its control records and keys go with it. */
async function dropSchema({ url, schema }: { url: string; schema: string }) {
  const pool = openPostgresPool({ url, poolSize: 1 })
  try {
    // The schema name is checked by the pool's own rule (SCHEMA_NAME): it needs no quoting.
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await pool.close()
  }
}
