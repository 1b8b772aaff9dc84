export * from './scratchSchemas.ts'
export * from './tcpRelay.ts'
