import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createEmbeddedLog } from '@hourglass/log'
import { afterAll, describe, expect, it } from 'vitest'
import { loadGenerationStates } from './runtime/generations.ts'
import { seededRandom } from './seededRandom.ts'
import { tables } from './tables.ts'
import { countOf, fixtureEvent } from './testing/workerFixtures.ts'
import { openWarehouse } from './warehouse/warehouse.ts'

/**
 * The crash test of rebuilds: a process running the worker and a replay of the events projection
 * (as embedded mode does) is killed with SIGKILL at random points of successive rebuilds —
 * building, switching, dropping — while the log grows between runs. A last run finishes; the
 * answers must then equal the log, exactly once, with no built tables left behind.
 */

const WANTED_KILLS = 20
const MAX_RUNS = 60
/** A run that takes this long is stuck, not slow. */
const STUCK_RUN_MS = 120_000

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
const script = fileURLToPath(new URL('./testing/rebuildProcess.ts', import.meta.url))
const seed = Number(process.env.REBUILD_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
const random = seededRandom(seed)
const between = (min: number, max: number) => min + Math.floor(random() * (max - min + 1))

/** When to kill a run: some time after a line it prints (`ready`, a stage), or never. */
type KillPlan = { readonly after: string; readonly ms: number } | null

interface Run {
  readonly killed: boolean
  readonly killedAfter: string | null
  readonly exitCode: number | null
  readonly stderr: string
}

let running: ChildProcess | null = null

function runProcess(logPath: string, warehousePath: string, wanted: number, plan: KillPlan): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, logPath, warehousePath, String(wanted)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running = child
  let stderr = ''
  let killedAfter: string | null = null
  const timers = [setTimeout(() => child.kill('SIGKILL'), STUCK_RUN_MS)]
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8_000)
  })
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!plan || killedAfter !== null || !line.startsWith(plan.after)) return
    killedAfter = line
    timers.push(setTimeout(() => child.kill('SIGKILL'), plan.ms))
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (exitCode, signal) => {
      for (const timer of timers) clearTimeout(timer)
      running = null
      resolve({ killed: signal === 'SIGKILL', killedAfter, exitCode, stderr })
    })
  })
}

const plans = (): KillPlan[] => [
  { after: 'ready', ms: between(0, 400) },
  { after: 'stage building', ms: between(0, 1_500) },
  { after: 'progress', ms: between(0, 200) },
  { after: 'stage switching', ms: between(0, 30) },
]

const root = mkdtempSync(join(tmpdir(), 'hourglass-rebuild-crash-'))
afterAll(() => {
  running?.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
})

describe(`rebuilds killed at random points (seed ${seed})`, () => {
  it('given successive rebuilds killed at least 20 times, when a last run finishes, then the rollup equals the log exactly once and no built table is left', async () => {
    const logPath = join(root, 'log')
    const warehousePath = join(root, 'warehouse')
    let appended = 0
    const append = async (count: number) => {
      const { telemetry } = createEmbeddedLog({ path: logPath })
      await telemetry.appendEvents(Array.from({ length: count }, (_, i) => fixtureEvent(appended + i)))
      appended += count
      await telemetry.close()
    }
    await append(6_000)
    let wanted = 1
    const killedAfter: string[] = []
    for (let run = 0; run < MAX_RUNS && killedAfter.length < WANTED_KILLS; run++) {
      const options = plans()
      const outcome = await runProcess(
        logPath,
        warehousePath,
        wanted,
        options[between(0, options.length - 1)]!,
      )
      if (outcome.killed && outcome.killedAfter)
        killedAfter.push(outcome.killedAfter.split(' ').slice(0, 2).join(' '))
      else if (outcome.exitCode === 0) wanted++
      else throw new Error(`run ${run} failed (exit ${outcome.exitCode}):\n${outcome.stderr}`)
      await append(between(0, 400))
    }
    const last = await runProcess(logPath, warehousePath, wanted, null)

    expect(last.exitCode, last.stderr).toBe(0)
    expect(killedAfter.length).toBeGreaterThanOrEqual(WANTED_KILLS)
    expect(killedAfter.filter((line) => line.startsWith('stage switching')).length).toBeGreaterThan(0)
    const warehouse = await openWarehouse({ database: 'hourglass', embeddedPath: warehousePath })
    try {
      expect((await loadGenerationStates(warehouse)).get('events@v1')).toMatchObject({
        stage: 'serving',
        generation: wanted,
      })
      expect(
        await countOf(warehouse, `SELECT sum(events) AS n FROM ${warehouse.table(tables.rollupHourly)}`),
      ).toBe(appended)
      expect(
        await countOf(warehouse, `SELECT uniqExact(position) AS n FROM ${warehouse.table(tables.eventsRaw)}`),
      ).toBe(appended)
      expect(await countOf(warehouse, `SELECT count() AS n FROM ${warehouse.table(tables.eventsRaw)}`)).toBe(
        appended,
      )
      expect(
        await countOf(
          warehouse,
          `SELECT count() AS n FROM system.tables WHERE database = 'hourglass' AND name LIKE '%\\_\\_g%'`,
        ),
      ).toBe(0)
    } finally {
      await warehouse.close()
    }
  }, 1_800_000)
})
