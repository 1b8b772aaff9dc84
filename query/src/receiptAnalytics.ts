import { averageCents, centsFromWarehouse } from '@hourglass/schemas'
import {
  receiptCategoriesQuery,
  receiptHoursQuery,
  receiptPlacesQuery,
  receiptPlaceTotalsQuery,
} from './receiptQueries.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

/** Purchases and their money in cents: exact sums, never floating point. */
export interface ReceiptFigures {
  readonly purchases: number
  readonly revenue: bigint
  readonly nds: bigint
  readonly tips: bigint
}

export interface PlaceInfo {
  readonly sourceId: string
  readonly placeId: string
  /** The name on the place's latest receipt. */
  readonly placeName: string
  readonly purchases: number
  readonly firstReceiptAt: number
  readonly lastReceiptAt: number
}

export interface ReceiptAnalytics {
  readonly totals: ReceiptFigures
  /** Hours (UTC, epoch ms of the hour's start) that had purchases, in order. */
  readonly hours: readonly (ReceiptFigures & { readonly hour: number })[]
  readonly categories: readonly {
    readonly category: string
    readonly items: number
    readonly revenue: bigint
  }[]
  readonly places: readonly (ReceiptFigures & { readonly place: PlaceInfo })[]
}

export interface ReceiptScope {
  readonly accountId: string
  /** '' for every source of the account. */
  readonly sourceId: string
  /** '' for every place. */
  readonly placeId: string
}

const figures = (row: { purchases_n: number; revenue_t: string; nds_t: string; tips_t: string }) => ({
  purchases: row.purchases_n,
  revenue: centsFromWarehouse(row.revenue_t),
  nds: centsFromWarehouse(row.nds_t),
  tips: centsFromWarehouse(row.tips_t),
})

export const ZERO_FIGURES: ReceiptFigures = { purchases: 0, revenue: 0n, nds: 0n, tips: 0n }

export const addFigures = (a: ReceiptFigures, b: ReceiptFigures): ReceiptFigures => ({
  purchases: a.purchases + b.purchases,
  revenue: a.revenue + b.revenue,
  nds: a.nds + b.nds,
  tips: a.tips + b.tips,
})

/** The average receipt, rounded half up to the cent. */
export const averageReceipt = (f: ReceiptFigures) => averageCents(f.revenue, f.purchases)

export const readReceiptPlaces = async (reader: WarehouseReader, scope: ReceiptScope): Promise<PlaceInfo[]> =>
  (await runQuery(reader, receiptPlacesQuery, scope)).map((row) => ({
    sourceId: row.source_id,
    placeId: row.place_id,
    placeName: row.place_name,
    purchases: row.purchases_n,
    firstReceiptAt: row.first_ms,
    lastReceiptAt: row.last_ms,
  }))

/**
 * Analytics of a scope over whole UTC hours [start of `from`'s hour, `to`): per hour, per
 * category, per place, and in total (the sum of the hours, in cents).
 */
export async function readReceiptAnalytics(
  reader: WarehouseReader,
  scope: ReceiptScope & { readonly from: number; readonly to: number },
): Promise<ReceiptAnalytics> {
  const [hourRows, placeRows, categoryRows, places] = await Promise.all([
    runQuery(reader, receiptHoursQuery, scope),
    runQuery(reader, receiptPlaceTotalsQuery, scope),
    runQuery(reader, receiptCategoriesQuery, scope),
    readReceiptPlaces(reader, scope),
  ])
  const hours = hourRows.map((row) => ({ hour: row.hour_s * 1000, ...figures(row) }))
  const placeInfo = new Map(places.map((place) => [`${place.sourceId}\u0000${place.placeId}`, place]))
  return {
    totals: hours.reduce<ReceiptFigures>(addFigures, ZERO_FIGURES),
    hours,
    categories: categoryRows.map((row) => ({
      category: row.category,
      items: row.items_n,
      revenue: centsFromWarehouse(row.revenue_t),
    })),
    places: placeRows.map((row) => ({
      ...figures(row),
      place: placeInfo.get(`${row.source_id}\u0000${row.place_id}`) ?? {
        sourceId: row.source_id,
        placeId: row.place_id,
        placeName: row.place_id,
        purchases: 0,
        firstReceiptAt: 0,
        lastReceiptAt: 0,
      },
    })),
  }
}
