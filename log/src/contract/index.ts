export * from './controlStoreContract.ts'
export type { PortHarness } from './openedPorts.ts'
export * from './telemetryLogContract.ts'
