export * from './controlStore.ts'
export * from './embeddedEventLog.ts'
export * from './eventLog.ts'
export * from './logErrors.ts'
export * from './remote/httpControlLog.ts'
export { type TailSource, tail } from './subscribe.ts'
export type {
  AppendOutcome,
  LeaseOptions,
  NewTelemetryRecord,
  PartitionLease as TelemetryPartitionLease,
  PolledRecords,
  TelemetryLog,
  TelemetryRecord,
} from './telemetryLog.ts'
