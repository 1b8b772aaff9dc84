import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer, Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CatalogedError } from '@hourglass/schemas'

/**
 * A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on 127.0.0.1,
 * from Maven Central artifacts: for running distributed mode on one machine and for
 * `npm run test:services` where no Docker engine is reachable. The jars are fetched once
 * with `mvn dependency:copy-dependencies` into `.kafka/lib` (git-ignored) and reused.
 */

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const pom = join(repoRoot, 'scripts', 'kafka', 'pom.xml')
const run = promisify(execFile)

/** Where the jars and broker folders live: `.kafka/` at the repository root unless told otherwise. */
export const defaultKafkaHome = () => resolve(process.env.HOURGLASS_KAFKA_HOME ?? join(repoRoot, '.kafka'))

export class LocalKafkaError extends CatalogedError {
  constructor(message: string) {
    super('LOCAL_KAFKA_FAILED', message)
  }
}

/** Fetches the broker's jars unless the cache already holds the ones this pom names. */
export async function ensureKafkaJars(home = defaultKafkaHome()): Promise<string> {
  const lib = join(home, 'lib')
  const stamp = join(lib, '.pom-sha256')
  const wanted = createHash('sha256').update(readFileSync(pom)).digest('hex')
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return lib
  const staging = join(home, `lib.${process.pid}.tmp`)
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(home, { recursive: true })
  try {
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${staging}`,
        '-DincludeScope=runtime',
      ],
      { timeout: 10 * 60_000, maxBuffer: 16 * 1024 * 1024 },
    )
  } catch (error) {
    rmSync(staging, { recursive: true, force: true })
    const detail = error as { stdout?: string; stderr?: string; message: string }
    throw new LocalKafkaError(
      `could not fetch Kafka from Maven Central (is mvn installed?): ${detail.message}\n${detail.stdout ?? ''}${detail.stderr ?? ''}`,
    )
  }
  writeFileSync(join(staging, '.pom-sha256'), wanted)
  rmSync(lib, { recursive: true, force: true })
  renameSync(staging, lib)
  return lib
}

/** A port that nothing listens on right now. */
export const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject()))
    })
  })

const answers = (port: number) =>
  new Promise<boolean>((resolveAnswer) => {
    const socket = new Socket()
    const done = (ok: boolean) => {
      socket.destroy()
      resolveAnswer(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.connect(port, '127.0.0.1', () => done(true))
  })

export interface LocalKafkaOptions {
  /** Jar cache and broker folders; default `.kafka/`. */
  readonly home?: string
  /** Broker port; default a free one. */
  readonly port?: number
  /** Partitions of topics that clients create without saying. */
  readonly defaultPartitions?: number
  /** Broker heap, e.g. `512m`. */
  readonly heap?: string
  /** Longest wait for the broker to answer after it is launched. */
  readonly startTimeoutMs?: number
}

export interface LocalKafka {
  /** `127.0.0.1:<port>`, for KAFKA_BROKERS. */
  readonly brokers: string
  readonly port: number
  /** The broker's folder (data, configuration, its output in `broker.log`). */
  readonly dir: string
  readonly running: boolean
  /** Stops the broker cleanly (SIGTERM, then SIGKILL after a grace period); its data stays. */
  stop(): Promise<void>
  /** Starts the broker again on the same port and data, after `stop()`. */
  start(): Promise<void>
  /** Stops the broker and removes its folder. */
  destroy(): Promise<void>
}

const serverProperties = (dir: string, port: number, controllerPort: number, partitions: number) =>
  [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${join(dir, 'data')}`,
    `num.partitions=${partitions}`,
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    // One broker: a group need not wait for more members before its first assignment.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // Acknowledged means written to the broker's log; flushing is left to the OS as in production.
    'log.retention.hours=168',
  ].join('\n')

const log4j = [
  'log4j.rootLogger=WARN, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  // The one INFO line that says the broker is up.
  'log4j.logger.kafka.server.KafkaRaftServer=INFO',
].join('\n')

/** Formats a fresh KRaft data folder and starts the broker; resolves once it accepts connections. */
export async function startLocalKafka(options: LocalKafkaOptions = {}): Promise<LocalKafka> {
  const home = options.home ?? defaultKafkaHome()
  const lib = await ensureKafkaJars(home)
  const port = options.port ?? (await freePort())
  const controllerPort = await freePort()
  const dir = join(home, 'brokers', `${port}-${randomUUID().slice(0, 8)}`)
  mkdirSync(dir, { recursive: true })
  const properties = join(dir, 'server.properties')
  writeFileSync(properties, serverProperties(dir, port, controllerPort, options.defaultPartitions ?? 1))
  writeFileSync(join(dir, 'log4j.properties'), log4j)
  const classpath = `${lib}/*`
  const jvm = [
    `-Xmx${options.heap ?? '512m'}`,
    `-Xms${options.heap ?? '512m'}`,
    '-XX:+UseG1GC',
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    '-cp',
    classpath,
  ]
  try {
    await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '-t', randomUUID(), '-c', properties], {
      timeout: 120_000,
    })
  } catch (error) {
    throw new LocalKafkaError(`could not format the broker's storage: ${(error as Error).message}`)
  }

  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  const killOnExit = () => child?.kill('SIGKILL')

  const launch = async () => {
    const output = createWriteStream(join(dir, 'broker.log'), { flags: 'a' })
    const started = spawn('java', [...jvm, 'kafka.Kafka', properties], { stdio: ['ignore', 'pipe', 'pipe'] })
    child = started
    started.stdout?.pipe(output)
    started.stderr?.pipe(output)
    exited = new Promise((resolveExit) => started.once('exit', () => resolveExit()))
    process.once('exit', killOnExit)
    let gone = false
    void exited.then(() => {
      gone = true
    })
    const deadline = Date.now() + (options.startTimeoutMs ?? 90_000)
    while (Date.now() < deadline) {
      if (gone) break
      if (await answers(port)) return
      await new Promise((r) => setTimeout(r, 250))
    }
    started.kill('SIGKILL')
    await exited
    const tail = existsSync(join(dir, 'broker.log'))
      ? readFileSync(join(dir, 'broker.log'), 'utf8').slice(-3000)
      : ''
    throw new LocalKafkaError(`the Kafka broker did not start on 127.0.0.1:${port}:\n${tail}`)
  }

  const stop = async () => {
    const current = child
    if (!current) return
    current.kill('SIGTERM')
    const grace = setTimeout(() => current.kill('SIGKILL'), 20_000)
    await exited
    clearTimeout(grace)
    process.removeListener('exit', killOnExit)
    child = null
  }

  await launch()
  return {
    brokers: `127.0.0.1:${port}`,
    port,
    dir,
    get running() {
      return child !== null
    },
    stop,
    start: async () => {
      if (!child) await launch()
    },
    async destroy() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
