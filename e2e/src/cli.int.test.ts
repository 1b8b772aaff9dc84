import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createGeneration,
  eventsProjection,
  loadGenerationStates,
  migrateWarehouse,
  openWarehouse,
  recordGeneration,
} from '@hourglass/projections'
import { startWarehouseStandIn } from '@hourglass/scripts/distributed'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const cli = join(root, 'scripts', 'src', 'cli.ts')
const tsx = join(root, 'node_modules', '.bin', 'tsx')
const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-cli-'))
const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

const run = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(tsx, [cli, ...args], { env: { ...process.env, ...env }, cwd: root })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })

/** Starts `hourglass start` and resolves with its URL once it says it is ready. */
const start = (env: Record<string, string>) =>
  new Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }>((resolve, reject) => {
    const child = spawn(tsx, [cli, 'start'], { env: { ...process.env, ...env }, cwd: root })
    children.push(child)
    const exited = new Promise<number | null>((done) => child.on('exit', done))
    let buffer = ''
    child.stdout.on('data', (chunk) => {
      buffer += chunk
      for (const line of buffer.split('\n')) {
        if (!line.includes('Hourglass is ready')) continue
        resolve({ child, url: JSON.parse(line).url, exited })
      }
    })
    child.on('exit', (code) => reject(new Error(`hourglass start exited with ${code}: ${buffer}`)))
  })

const post = async (url: string, body: unknown, token?: string) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe('the hourglass command line', () => {
  it('starts, serves the API and docs, reports status, replays, and stops cleanly on SIGTERM', async () => {
    const env = { HOURGLASS_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info' }
    const { child, url, exited } = await start(env)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    const docs = await fetch(`${url}/docs/json`)
    const spec = (await docs.json()) as { paths: Record<string, unknown> }
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/v1/auth/signup',
        '/v1/sources',
        '/v1/events',
        '/v1/sources/{id}/rollups/hourly',
      ]),
    )

    const signup = await post(`${url}/v1/auth/signup`, {
      email: 'cli@example.com',
      password: 'a long password',
      name: 'C',
    })
    const token = signup.body.token as string
    const source = await post(`${url}/v1/sources`, { kind: 'site', name: 'blog' }, token)
    const hour = Date.UTC(2026, 10, 1, 12)
    const events = Array.from({ length: 25 }, (_, i) => ({
      name: 'page_view',
      timestamp: hour + i * 1000,
      subject: `u${i % 4}`,
    }))
    expect((await post(`${url}/v1/events`, { events }, source.body.apiToken as string)).status).toBe(200)

    const rollupUrl = `${url}/v1/sources/${source.body.id}/rollups/hourly?from=${hour}&to=${hour + 3600_000}`
    let rows: unknown[] = []
    for (let i = 0; i < 100 && rows.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      rows = (
        (await (await fetch(rollupUrl, { headers: { authorization: `Bearer ${token}` } })).json()) as {
          rows: unknown[]
        }
      ).rows
    }
    expect(rows).toEqual([
      { hour: new Date(hour).toISOString(), name: 'page_view', events: 25, subjects: 4, sessions: 0 },
    ])

    const port = new URL(url).port
    const status = await run(['status'], { ...env, PORT: port })
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/log head: 27/)
    expect(status.stdout).toMatch(/^projection +committed +lag +serving generation +quarantined +state$/m)
    expect(status.stdout).toMatch(/^events@v1 +27 +0 +0 +0 +running$/m)

    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    const list = await run(['quarantine', 'list'], { ...env, PORT: port })
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toBe('no quarantined records\n')
    const retry = await run(['quarantine', 'retry', '--repair', '--projection', 'events@v1'], {
      ...env,
      PORT: port,
    })
    expect(retry.code, retry.stderr).toBe(0)
    expect(retry.stdout).toBe('no held records to retry\n')

    const replay = await run(['replay', 'events'], { ...env, PORT: port })
    expect(replay.code).toBe(0)
    expect(replay.stdout).toMatch(/replayed events: 27\/27 records in/)
    // Progress lines give the time left in seconds, or say it is not known yet.
    expect(replay.stderr).toMatch(/records\/s \| eta (unknown|\d+ s)$/m)
    expect(replay.stderr).not.toMatch(/eta (NF|NaN|Inf)/)
    const again = (await (
      await fetch(rollupUrl, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { rows: unknown[] }
    expect(again.rows).toEqual(rows)
    const rebuilt = await run(['status'], { ...env, PORT: port })
    expect(rebuilt.stdout).toMatch(/^events@v1 +27 +0 +1 +0 +running$/m)
    const cancel = await run(['replay', '--cancel', 'events'], { ...env, PORT: port })
    expect(cancel.code).toBe(0)
    expect(cancel.stdout).toMatch(/no rebuild of events is under way/)

    child.kill('SIGTERM')
    expect(await exited).toBe(0)

    // Not running now: status reads the data folder itself.
    const offline = await run(['status'], env)
    expect(offline.code).toBe(0)
    expect(offline.stdout).toMatch(/reading .* directly/)
    expect(offline.stdout).toMatch(/log head: 27/)
    const offlineList = await run(['quarantine', 'list'], env)
    expect(offlineList.code, offlineList.stderr).toBe(0)
    expect(offlineList.stdout).toMatch(/working in .* directly\)\nno quarantined records\n$/)
    const wrong = await run(['quarantine', 'drop', '--repair'], env)
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/--repair goes with retry only/)
  }, 180_000)

  it('refuses to start on a wrong setting and names it', async () => {
    const result = await run(['start'], {
      HOURGLASS_DATA_DIR: dataDir,
      PORT: 'eighty',
      CLICKHOUSE_URL: 'ftp://x',
    })
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/PORT: /)
    expect(result.stderr).toMatch(/CLICKHOUSE_URL: must be an http\(s\) URL/)
  })

  it('explains its commands, and rejects an unknown one', async () => {
    const help = await run(['--help'], {})
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/hourglass replay <projection>/)
    expect(help.stdout).toMatch(/hourglass replay --cancel <projection>/)
    const unknown = await run(['frobnicate'], { HOURGLASS_DATA_DIR: dataDir })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/)
  })
})

describe('the hourglass command line in distributed mode', () => {
  it("cancels a build recorded in the workers' warehouse, and says when none is under way", async () => {
    const folder = mkdtempSync(join(tmpdir(), 'hourglass-cli-cancel-'))
    const standIn = await startWarehouseStandIn({
      path: folder,
      port: 0,
      database: 'hourglass',
      logger: pino({ level: 'silent' }),
    })
    const warehouse = await openWarehouse({ url: standIn.url, database: 'hourglass_cancel' })
    try {
      await migrateWarehouse(warehouse)
      const plan = await createGeneration(warehouse, eventsProjection, 1)
      await recordGeneration(warehouse, 'events@v1', { generation: 1, stage: 'building', plan, target: [0] })
      const env = { CLICKHOUSE_URL: standIn.url, CLICKHOUSE_DATABASE: 'hourglass_cancel' }

      const cancelled = await run(['replay', '--cancel', '--distributed', 'events'], env)
      const state = (await loadGenerationStates(warehouse)).get('events@v1')
      const again = await run(['replay', '--cancel', '--distributed', 'events'], env)

      expect(cancelled.stdout).toContain('cancelled the rebuild of events: the serving generation stays')
      expect(cancelled.code).toBe(0)
      expect(state?.stage).toBe('cancelled')
      expect(again.stdout).toContain('no rebuild of events is under way')
    } finally {
      await warehouse.close()
      await standIn.close()
      rmSync(folder, { recursive: true, force: true })
    }
  })
})
