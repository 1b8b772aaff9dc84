import { deviceReadingsProjection } from './deviceReadingsProjection.ts'
import { eventsProjection } from './eventsProjection.ts'
import type { Projection } from './projection.ts'
import { receiptsProjection } from './receiptsProjection.ts'
import { storeStatsProjection } from './storeStatsProjection.ts'
import { userStatsProjection } from './userStatsProjection.ts'

/** Every projection Hourglass runs, in both modes. */
export const projections: readonly Projection[] = [
  eventsProjection,
  storeStatsProjection,
  receiptsProjection,
  deviceReadingsProjection,
  userStatsProjection,
]

/** The projection of this name, or undefined. */
export const projectionNamed = (name: string) => projections.find((projection) => projection.name === name)
