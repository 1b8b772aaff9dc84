export * from './controlStore.ts'
export * from './embeddedLog.ts'
export * from './logErrors.ts'
export * from './telemetryLog.ts'
