/** Tables that projections publish and the query service reads. */
export const tables = {
  eventsRaw: 'events_raw',
  rollupHourly: 'rollup_hourly',
  rollupHourlyView: 'rollup_hourly_mv',
  checkpoints: 'projection_checkpoints',
  migrations: 'schema_migrations',
  /** Batches of a partitioned log as projection workers claimed them: one offset range per first offset. */
  projectionBatches: 'projection_batches',
  /** Every (stream, id) a partitioned log's projections have counted, with its partition and offset. */
  logIds: 'log_ids',
  /** Where each erasure falls in each partition of a partitioned log: the offsets it covers. */
  erasureCuts: 'erasure_cuts',
  /** Each projection's steps of an erasure in each partition: counted, then applied. */
  erasureSteps: 'erasure_steps',
  /** Replays of a projection over a partitioned log: each generation requested, then opened. */
  projectionReplays: 'projection_replays',
  /** The workers that have stopped writing a projection's earlier generation. */
  projectionReplayAcks: 'projection_replay_acks',
  /** Generations of each projection's tables: built beside the serving one, then switched to. */
  projectionGenerations: 'projection_generations',
  /** Event definitions as the per-user statistics projection has seen them, with their log positions. */
  eventDefinitions: 'event_definitions',
  /** Per-user statistics of defined events: a sum per user, key (attribute value) and hour. */
  userStatsHourly: 'user_stats_hourly',
  /** The same sums over all time, fed from `user_stats_hourly` by a materialized view. */
  userStatsTotal: 'user_stats_total',
  userStatsTotalView: 'user_stats_total_mv',
  deviceReadingsRaw: 'device_readings_raw',
  deviceReadingsHourly: 'device_readings_hourly',
  deviceReadingsHourlyView: 'device_readings_hourly_mv',
  deviceReadingsDaily: 'device_readings_daily',
  deviceReadingsDailyView: 'device_readings_daily_mv',
  storeEvents: 'store_events',
  storeHourly: 'store_hourly',
  storeHourlyView: 'store_hourly_mv',
  storeErasures: 'store_erasures',
  receiptsRaw: 'receipts_raw',
  receiptsHourly: 'receipts_hourly',
  receiptsHourlyView: 'receipts_hourly_mv',
  receiptCategoriesHourly: 'receipt_categories_hourly',
  receiptCategoriesHourlyView: 'receipt_categories_hourly_mv',
  receiptPlaces: 'receipt_places',
  receiptPlacesView: 'receipt_places_mv',
  receiptRuns: 'receipt_projection_runs',
  /** Records a projection could not apply, set aside with their log position and the engine's error. */
  projectionQuarantine: 'projection_quarantine',
} as const

/**
 * The quantile digest that the device readings' hourly and daily states keep (median and p95),
 * by the names the query service needs to merge it and to build the same states for partial hours.
 */
export const deviceReadingQuantiles = {
  type: 'quantilesTDigest(0.5, 0.95)',
  state: 'quantilesTDigestState(0.5, 0.95)',
  merge: 'quantilesTDigestMerge(0.5, 0.95)',
} as const
