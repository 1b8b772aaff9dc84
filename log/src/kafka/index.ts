export * from './kafkaTelemetryLog.ts'
