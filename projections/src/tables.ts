/** Tables that projections publish and the query service reads. */
export const tables = {
  eventsRaw: 'events_raw',
  rollupHourly: 'rollup_hourly',
  rollupHourlyView: 'rollup_hourly_mv',
  checkpoints: 'projection_checkpoints',
  migrations: 'schema_migrations',
} as const
