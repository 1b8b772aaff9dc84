export * from './apiServer.ts'
export * from './httpErrors.ts'
export * from './requestLogController.ts'
export * from './serviceApp.ts'
