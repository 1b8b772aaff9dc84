import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createEmbeddedLog, type PartitionLease, type TelemetryLog } from '@hourglass/log'
import { afterEach, describe, expect, it } from 'vitest'
import { fixtureEvent } from '../testing/workerFixtures.ts'
import { createLaneReader } from './laneReader.ts'

/** How the lanes of a partition get their records, on the embedded log. */

const opened: { close(): Promise<void> }[] = []
const roots: string[] = []
afterEach(async () => {
  for (const closable of opened.splice(0).reverse()) await closable.close()
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true })
})

/** An embedded log holding `count` events, a started lease on it, and the positions they took. */
async function given(count: number) {
  const root = mkdtempSync(join(tmpdir(), 'hourglass-lane-reader-'))
  roots.push(root)
  const { telemetry, control } = createEmbeddedLog({ path: join(root, 'log') })
  opened.push(telemetry, control)
  const positions = await append(telemetry, 0, count)
  const lease = telemetry.lease({ group: 'lane-reader' })
  await lease.start()
  opened.push(lease)
  return { telemetry, lease, positions }
}

async function append(log: TelemetryLog, first: number, count: number) {
  const outcomes = await log.appendEvents(Array.from({ length: count }, (_, i) => fixtureEvent(first + i)))
  return outcomes.map((outcome) => outcome.position)
}

const reader = (
  log: Pick<TelemetryLog, 'readPartition'>,
  lease: PartitionLease,
  sizes: { batch?: number; rebuild?: number; linger?: number },
) =>
  createLaneReader({
    log,
    lease,
    batchSize: sizes.batch ?? 1_000,
    rebuildBatchSize: sizes.rebuild ?? 1_000,
    lingerMs: sizes.linger ?? 0,
  })

const positionsOf = (read: { records: readonly { position: number }[] }) =>
  read.records.map((r) => r.position)

/** The log, counting the reads made of it. */
const countingReads = (log: TelemetryLog) => {
  let reads = 0
  const counted: Pick<TelemetryLog, 'readPartition'> = {
    readPartition: (partition, from, limit) => {
      reads += 1
      return log.readPartition(partition, from, limit)
    },
  }
  return { log: counted, reads: () => reads }
}

/** Lets reads scheduled for later turns of the event loop run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 50))

describe('lane reader', () => {
  it('given a lane behind the frontier, when it reads, then it gets ranges of the rebuild size up to the frontier and no further', async () => {
    const { telemetry, lease, positions } = await given(120)
    const read = reader(telemetry, lease, { batch: 10, rebuild: 50 })
    const frontierAt = positions[100]!
    const first = await read.behind(0, positions[0]!, frontierAt)
    expect(positionsOf(first)).toEqual(positions.slice(0, 50))
    expect(first.next).toBe(positions[49]! + 1)
    const second = await read.behind(0, first.next, frontierAt)
    expect(positionsOf(second)).toEqual(positions.slice(50, 100))
    // Records beyond the frontier came back with the range: it is read out, up to the frontier.
    const third = await read.behind(0, second.next, frontierAt)
    expect(positionsOf(third)).toEqual([])
    expect(third.next).toBe(frontierAt)
  })

  it('given a lane close behind the frontier, when less than a range is left, then the range ends at the frontier', async () => {
    const { telemetry, lease, positions } = await given(30)
    const read = reader(telemetry, lease, { rebuild: 50 })
    const behind = await read.behind(0, positions[10]!, positions[20]!)
    expect(positionsOf(behind)).toEqual(positions.slice(10, 20))
    expect(behind.next).toBe(positions[20])
  })

  it('given a lane reading ranges behind the frontier, when it asks for the next range, then that range was read ahead while it worked on the one before', async () => {
    const { telemetry, lease, positions } = await given(150)
    const counted = countingReads(telemetry)
    const read = reader(counted.log, lease, { rebuild: 50 })
    const frontierAt = positions[140]!
    const first = await read.behind(0, positions[0]!, frontierAt)
    await settled()
    const readsBefore = counted.reads()
    const second = await read.behind(0, first.next, frontierAt)
    expect(counted.reads()).toBe(readsBefore)
    expect(positionsOf(second)).toEqual(positions.slice(50, 100))
    expect(positionsOf(await read.behind(0, second.next, frontierAt))).toEqual(positions.slice(100, 140))
  })

  it('given a range read ahead, when the lane asks for another one (it started again elsewhere), then it gets the one it asked for', async () => {
    const { telemetry, lease, positions } = await given(120)
    const read = reader(telemetry, lease, { rebuild: 50 })
    const frontierAt = positions[110]!
    await read.behind(0, positions[0]!, frontierAt)
    const elsewhere = await read.behind(0, positions[20]!, frontierAt)
    expect(positionsOf(elsewhere)).toEqual(positions.slice(20, 70))
  })

  it('given a range read ahead when the log ended short of it, when records arrive before the lane asks, then the range holds them too', async () => {
    const { telemetry, lease, positions } = await given(60)
    const read = reader(telemetry, lease, { rebuild: 50 })
    const first = await read.behind(0, positions[0]!, positions[55]!)
    expect(positionsOf(first)).toEqual(positions.slice(0, 50))
    await settled()
    // The read ahead found positions[50..59] only; 40 more arrive, and the frontier moves on.
    const later = await append(telemetry, 60, 40)
    const all = [...positions, ...later]
    const second = await read.behind(0, first.next, all[90]!)
    expect(positionsOf(second)).toEqual(all.slice(50, 90))
    expect(second.next).toBe(all[90])
  })

  it('given the leading lane, when it polls, then it gets at most a batch from the frontier on', async () => {
    const { telemetry, lease, positions } = await given(25)
    const read = reader(telemetry, lease, { batch: 10 })
    const polled = await read.atFrontier(0, positions[5]!, AbortSignal.timeout(10_000), false)
    expect(positionsOf(polled)).toEqual(positions.slice(5, 15))
  })

  it('given a full batch at the frontier, when there is a linger, then it comes at once', async () => {
    const { telemetry, lease, positions } = await given(8)
    const read = reader(telemetry, lease, { batch: 5, linger: 600_000 })
    const polled = await read.atFrontier(0, positions[0]!, AbortSignal.timeout(120_000), true)
    expect(positionsOf(polled)).toEqual(positions.slice(0, 5))
  })

  it('given a short batch at the frontier and a linger, when more records arrive meanwhile, then they come in the same batch', async () => {
    const { telemetry, lease, positions } = await given(2)
    const read = reader(telemetry, lease, { batch: 100, linger: 3_000 })
    const polling = read.atFrontier(0, positions[0]!, AbortSignal.timeout(120_000), false)
    const later = await append(telemetry, 2, 3)
    expect(positionsOf(await polling)).toEqual([...positions, ...later])
  })

  it('given a settled batch longer than what was read, when the rest is read, then every record of the range comes once, in order', async () => {
    const { telemetry, lease, positions } = await given(30)
    const read = reader(telemetry, lease, { batch: 7 })
    const rest = await read.range(0, positions[3]!, positions[27]!)
    expect(rest.map((record) => record.position)).toEqual(positions.slice(3, 27))
  })
})
