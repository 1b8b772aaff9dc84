import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Warehouse } from '@hourglass/projections'

/** Nearest-rank percentile of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** What the resident set is made of at one moment, in bytes. */
export interface RssMakeUp {
  readonly rss: number
  /** Anonymous memory: the JS heap, chDB's and other native allocations. */
  readonly anonymous: number
  /** File pages mapped into the process, mostly the LMDB log (memory-mapped): the kernel can drop them. */
  readonly file: number
  readonly jsHeap: number
  /** Memory of JS objects held outside the heap (buffers). */
  readonly external: number
}

/** The make-up of the resident set now (anonymous/file split from /proc on Linux, NaN elsewhere). */
export function rssMakeUp(): RssMakeUp {
  const memory = process.memoryUsage()
  const kib = (field: string, status: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match ? Number(match[1]) * 1024 : Number.NaN
  }
  let status = ''
  try {
    status = readFileSync('/proc/self/status', 'utf8')
  } catch {
    // Not Linux: the split is unknown.
  }
  return {
    rss: memory.rss,
    anonymous: kib('RssAnon', status),
    file: kib('RssFile', status) + (kib('RssShmem', status) || 0),
    jsHeap: memory.heapTotal,
    external: memory.external,
  }
}

export interface RssSampler {
  /** Highest resident set size seen, in bytes. */
  peak(): number
  /** The resident set's make-up when it was highest. */
  atPeak(): RssMakeUp
  /** From now on, the highest resident set size seen, in bytes: for one phase's figure. */
  since(): () => number
  stop(): void
}

/**
 * Samples the resident set size of this process, which holds the server, chDB and the load
 * generator alike. A busy event loop delays samples, so the OS-level maxRSS is reported too.
 */
export function sampleRss(intervalMs: number): RssSampler {
  let peak = rssMakeUp()
  const marks = new Set<{ peak: number }>()
  const sample = () => {
    const rss = process.memoryUsage.rss()
    // /proc is read only on a new peak: the split is wanted there, and sampling stays cheap.
    if (rss > peak.rss) peak = rssMakeUp()
    for (const mark of marks) mark.peak = Math.max(mark.peak, rss)
    return rss
  }
  const timer = setInterval(sample, intervalMs)
  timer.unref()
  return {
    peak: () => Math.max(peak.rss, sample()),
    atPeak: () => peak,
    since() {
      const mark = { peak: process.memoryUsage.rss() }
      marks.add(mark)
      return () => {
        marks.delete(mark)
        return Math.max(mark.peak, sample())
      }
    },
    stop: () => clearInterval(timer),
  }
}

/** The OS's record of this process's largest resident set, in bytes. */
export const osMaxRss = () => process.resourceUsage().maxRSS * 1024

export interface WarehouseTally {
  statements: number
  rows: number
  ms: number
}

/** Counts what goes to the warehouse: inserts per table (with rows), and SELECTs. */
export interface WarehouseProbe {
  snapshot(): ReadonlyMap<string, WarehouseTally>
}

/**
 * Counts statements, rows and time per table of the warehouse (and of every database it is
 * opened on with `forDatabase`), its reads' own connection included. It only observes: this is
 * how the bench sees the projections' batch sizes without changing them.
 */
export function probeWarehouse(warehouse: Warehouse): WarehouseProbe {
  const tallies = new Map<string, WarehouseTally>()
  warehouse.observe(({ kind, table, rows, ms }) => {
    const key = `${kind === 'insert' ? 'insert' : 'select'} ${table}`
    if (kind === 'run') return
    const tally = tallies.get(key) ?? { statements: 0, rows: 0, ms: 0 }
    tally.statements += 1
    tally.rows += rows
    tally.ms += ms
    tallies.set(key, tally)
  })
  return { snapshot: () => new Map([...tallies].map(([key, tally]) => [key, { ...tally }])) }
}

/** Busy and total CPU time of the whole machine (Linux /proc/stat, in ticks); null elsewhere. */
function machineCpu(): { busy: number; total: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number)
    const total = fields.reduce((sum, value) => sum + value, 0)
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
    return { busy: total - idle, total }
  } catch {
    return null
  }
}

/** Cores the whole machine is busy on, over one second: to see load from other processes. */
export async function machineCoresBusy(overMs = 1000): Promise<number | null> {
  const before = machineCpu()
  await new Promise((resolve) => setTimeout(resolve, overMs))
  const after = machineCpu()
  if (!before || !after || after.total === before.total) return null
  return ((after.busy - before.busy) / (after.total - before.total)) * availableParallelism()
}

export interface PhaseUsage {
  readonly wallMs: number
  /** CPU seconds per wall second of the Hourglass process (server, log, chDB threads, projections). */
  readonly cores: number
  /** Cores the load generator's process kept busy (NaN where unknown). */
  readonly producerCores: number
  /** Cores busy with other processes on the machine (NaN where unknown): they skew every figure. */
  readonly otherCores: number
  /** Share of the time the main thread's event loop was busy. */
  readonly eventLoopBusy: number
  /** Warehouse statements during the phase, by table. */
  readonly warehouse: ReadonlyMap<string, WarehouseTally>
  /** Highest resident set size during the phase, in bytes. */
  readonly peakRss: number
}

/**
 * What a phase cost: wall time, CPU, event-loop load and warehouse statements. `producerCpu`
 * gives the CPU seconds of the load generator's process, kept apart from other processes.
 */
export function meterPhase(
  probe: WarehouseProbe,
  rss: RssSampler,
  producerCpu: () => number,
): { stop(): PhaseUsage } {
  const peakRss = rss.since()
  const producerCpuBefore = producerCpu()
  const startedAt = performance.now()
  const cpu = process.cpuUsage()
  const machine = machineCpu()
  const loop = performance.eventLoopUtilization()
  const before = probe.snapshot()
  return {
    stop() {
      const wallMs = performance.now() - startedAt
      const used = process.cpuUsage(cpu)
      const machineNow = machineCpu()
      const cores = (used.user + used.system) / 1000 / wallMs
      const machineCores =
        machine && machineNow && machineNow.total > machine.total
          ? ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * availableParallelism()
          : Number.NaN
      const producerCores = ((producerCpu() - producerCpuBefore) * 1000) / wallMs
      const after = probe.snapshot()
      const warehouse = new Map<string, WarehouseTally>()
      for (const [key, tally] of after) {
        const was = before.get(key) ?? { statements: 0, rows: 0, ms: 0 }
        if (tally.statements === was.statements) continue
        warehouse.set(key, {
          statements: tally.statements - was.statements,
          rows: tally.rows - was.rows,
          ms: tally.ms - was.ms,
        })
      }
      return {
        wallMs,
        cores,
        producerCores,
        otherCores: Math.max(0, machineCores - cores - (Number.isFinite(producerCores) ? producerCores : 0)),
        eventLoopBusy: performance.eventLoopUtilization(loop).utilization,
        warehouse,
        peakRss: peakRss(),
      }
    },
  }
}
