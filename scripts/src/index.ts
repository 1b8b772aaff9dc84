export * from './app.ts'
export * from './config.ts'
export * from './embeddedRuntime.ts'
export * from './httpErrors.ts'
