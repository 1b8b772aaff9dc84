export * from './queries.ts'
export * from './queryRoutes.ts'
export * from './queryTime.ts'
export * from './warehouseReader.ts'
