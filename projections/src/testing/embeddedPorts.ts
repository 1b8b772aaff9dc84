import { randomUUID } from 'node:crypto'
import type {
  ControlRecord,
  ControlStore,
  EmbeddedEventLog,
  TelemetryLog,
  TelemetryPartitionLease,
  TelemetryRecord,
} from '@hourglass/log'

/** The embedded event log seen through the two ports the runtime takes. */
export function embeddedPorts(log: EmbeddedEventLog): { telemetry: TelemetryLog; control: ControlStore } {
  const groups = new Map<string, Set<string>>()
  const readTelemetry = async (from: number, limit: number) => {
    const out: TelemetryRecord[] = []
    let next = from
    for (;;) {
      const page = await log.read(next, Math.max(limit, 1000))
      if (page.length === 0) return out
      for (const record of page) {
        if (record.revision !== null) continue
        out.push(record)
        if (out.length === limit) return out
      }
      next = page[page.length - 1]!.position + 1
    }
  }
  const telemetry: TelemetryLog = {
    appendEvents: (records) => log.appendEvents(records),
    partitionCount: () => 1,
    partitionOf: () => 0,
    readPartition: (_partition, from, limit) => readTelemetry(from, limit),
    partitionHeads: async () => [await log.head()],
    partitionStarts: async () => [0],
    lease({ group }): TelemetryPartitionLease {
      const memberId = `embedded-${randomUUID()}`
      const assigned = [0] as const
      return {
        async start() {
          const members = groups.get(group) ?? new Set()
          members.add(memberId)
          groups.set(group, members)
        },
        assigned: () => assigned,
        memberId: () => memberId,
        async poll(_partition, from, limit, waitMs, signal) {
          const deadline = Date.now() + waitMs
          for (;;) {
            const head = await log.head()
            const records = await readTelemetry(from, limit)
            if (records.length > 0) return { records, next: records[records.length - 1]!.position + 1 }
            if (Date.now() >= deadline || signal?.aborted) return { records, next: Math.max(from, head) }
            await new Promise((resolve) => setTimeout(resolve, Math.min(20, deadline - Date.now())))
          }
        },
        commit: async () => {},
        async close() {
          groups.get(group)?.delete(memberId)
        },
      }
    },
    groupMembers: async (group) => [...(groups.get(group) ?? [])],
    close: () => log.close(),
  }
  const control: ControlStore = {
    appendToStream: (stream, records, expected) => log.appendToStream(stream, records, expected),
    readStream: async (stream, fromRevision) =>
      (await log.readStream(stream, fromRevision)) as ControlRecord[],
    readAll: async (from, limit) => (await log.readControl(from, limit)) as ControlRecord[],
    close: async () => {},
  }
  return { telemetry, control }
}
