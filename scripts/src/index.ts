export * from './app.ts'
export * from './embeddedRuntime.ts'
