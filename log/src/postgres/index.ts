export * from './postgresControlStore.ts'
export * from './postgresMigrations.ts'
export * from './postgresPool.ts'
export * from './postgresSettings.ts'
