import { randomUUID } from 'node:crypto'
import { type Device, ownerAt } from '@hourglass/control'
import type { AppendOutcome, NewTelemetryRecord } from '@hourglass/log'
import {
  DEVICE_READING,
  type DeviceReading,
  type FieldIssue,
  type Metrics,
  ReadingInput,
  readingRecordId,
  telemetryStream,
  toFieldIssues,
} from '@hourglass/schemas'
import { z } from 'zod'
import { describeResults, EventResult } from '../eventBatch.ts'

export const MAX_READINGS_PER_REQUEST = 1000

export const ReadingBatchBody = z.object({
  readings: z
    .array(z.unknown())
    .min(1, { error: 'must hold at least one reading' })
    .max(MAX_READINGS_PER_REQUEST, { error: `must hold at most ${MAX_READINGS_PER_REQUEST} readings` }),
})

/** The same per-item results as event batches. */
export const ReadingResult = EventResult
export type ReadingResult = z.infer<typeof ReadingResult>

export interface StampedReadings {
  readonly records: NewTelemetryRecord[]
  /** Index in the request of each record. */
  readonly indexes: number[]
  readonly rejected: { index: number; issues: FieldIssue[] }[]
}

/** A reading after validation, before its device is looked up. */
export interface ParsedReading {
  readonly id?: string | undefined
  readonly deviceId: string
  readonly timestamp: number
  readonly metrics: Metrics
}

/**
 * The log record of a reading of a registered device, stamped with the device's owner at the
 * reading's own time: a late reading keeps the owner it had when it was taken.
 */
export function readingRecord(
  device: Device,
  reading: ParsedReading,
  receivedAt: number,
): NewTelemetryRecord {
  const data: DeviceReading = {
    id: reading.id ?? randomUUID(),
    accountId: device.accountId,
    sourceId: device.sourceId,
    deviceId: device.deviceId,
    userId: ownerAt(device, reading.timestamp),
    timestamp: reading.timestamp,
    receivedAt,
    metrics: reading.metrics,
  }
  return {
    stream: telemetryStream(device.sourceId),
    id: readingRecordId(device.deviceId, data.id),
    type: DEVICE_READING,
    data,
  }
}

/** Parses each reading of a request on its own (`readings[i]` in every issue path). */
export function parseReadings(readings: readonly unknown[]): {
  parsed: { index: number; reading: ParsedReading }[]
  rejected: StampedReadings['rejected']
} {
  const parsed: { index: number; reading: ParsedReading }[] = []
  const rejected: StampedReadings['rejected'] = []
  readings.forEach((raw, index) => {
    const result = ReadingInput.safeParse(raw)
    if (result.success) parsed.push({ index, reading: result.data })
    else rejected.push({ index, issues: toFieldIssues(result.error.issues, `readings[${index}]`) })
  })
  return { parsed, rejected }
}

/**
 * Validates a request's readings and stamps the valid ones for the log. A reading of a device
 * the fleet has not registered (bound) is rejected, naming the device.
 */
export function stampReadings(
  readings: readonly unknown[],
  devices: ReadonlyMap<string, Device>,
  receivedAt: number,
): StampedReadings {
  const { parsed, rejected } = parseReadings(readings)
  const records: NewTelemetryRecord[] = []
  const indexes: number[] = []
  for (const { index, reading } of parsed) {
    const device = devices.get(reading.deviceId)
    if (!device) {
      rejected.push({
        index,
        issues: [
          {
            path: `readings[${index}].deviceId`,
            message: `device "${reading.deviceId}" is not registered in this fleet (bind it to register it)`,
          },
        ],
      })
      continue
    }
    records.push(readingRecord(device, reading, receivedAt))
    indexes.push(index)
  }
  rejected.sort((a, b) => a.index - b.index)
  return { records, indexes, rejected }
}

/** One result per reading of the request, in request order; `outcomes` null when nothing was appended. */
export const describeReadings = (
  batch: StampedReadings,
  outcomes: readonly AppendOutcome[] | null,
  total: number,
) => describeResults(batch, outcomes, total, (record) => (record.data as DeviceReading).id)
