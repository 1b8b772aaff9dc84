export * from './control.ts'
export * from './errors.ts'
export * from './telemetry.ts'
