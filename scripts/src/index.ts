export * from './app.ts'
export * from './embeddedRuntime.ts'
export * from './localSecrets.ts'
