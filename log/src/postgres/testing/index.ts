export * from './privatePostgres.ts'
export * from './scratchSchemas.ts'
export * from './tcpRelay.ts'
