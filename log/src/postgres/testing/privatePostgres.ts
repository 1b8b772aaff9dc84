import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const DEBIAN_POSTGRES = '/usr/lib/postgresql'

/**
 * A PostgreSQL server of one test's own, in a temporary folder on a free loopback port, for
 * tests that stop the server and start it again (never the shared one on 5432). The binaries
 * are Debian's (HOURGLASS_TEST_POSTGRES_BIN, default the newest /usr/lib/postgresql/<n>/bin);
 * as root, the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication). */
  readonly url: string
  /** Shuts the server down (fast: open connections are cut); the data stays. */
  stop(): Promise<void>
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>
  /** Stops it and removes its folder. */
  destroy(): Promise<void>
}

/** HOURGLASS_TEST_POSTGRES_BIN, or the newest of Debian's installed versions. */
const binaries = () => {
  if (process.env.HOURGLASS_TEST_POSTGRES_BIN) return process.env.HOURGLASS_TEST_POSTGRES_BIN
  const versions = existsSync(DEBIAN_POSTGRES)
    ? readdirSync(DEBIAN_POSTGRES).filter((name) => /^\d+$/.test(name))
    : []
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1) ?? '15'
  return join(DEBIAN_POSTGRES, newest, 'bin')
}

/** A loopback port free right now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()))
    })
  })

/** Runs one of the server's programs, as `postgres` when this process is root. */
const runAsServer = async (program: string, args: string[]) => {
  const path = join(binaries(), program)
  const asRoot = process.getuid?.() === 0
  await run(asRoot ? 'runuser' : path, asRoot ? ['-u', 'postgres', '--', path, ...args] : args)
}

/** Makes, then starts, a server of its own. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'hourglass-postgres-'))
  if (process.getuid?.() === 0) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout), -1)
  const data = join(dir, 'data')
  const port = await freePort()
  const ctl = (...args: string[]) => runAsServer('pg_ctl', ['-D', data, '-w', '-t', '60', ...args])
  const start = () =>
    ctl(
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    )
  const stop = () => ctl('-m', 'fast', 'stop')
  try {
    await runAsServer('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
    await start()
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await stop()
    },
    start: async () => {
      await start()
    },
    async destroy() {
      await stop().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
