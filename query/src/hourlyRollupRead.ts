import { hourlyRollupQuery } from './queries.ts'
import { type AnswerScope, ceilHour, floorHour, HOUR_MS, type ReadCache } from './readCache.ts'
import { runQuery, type WarehouseReader } from './warehouseReader.ts'

/** Longest range whose hours are kept one by one in the read cache (a year and a day); longer ones are read whole. */
const MAX_CACHED_HOURS = 366 * 24

export interface RollupRange {
  readonly accountId: string
  readonly sourceId: string
  readonly from: number
  readonly to: number
  /** '' for every event name. */
  readonly name: string
}

/** One hour's rows as they stand in the answer's `rows` array, comma-separated (empty for none). */
type HourText = Buffer

const EMPTY: HourText = Buffer.alloc(0)
const OPEN = Buffer.from('{"rows":[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']}')

const rangeKey = (range: RollupRange) =>
  `hourlyRollup\u0000${range.accountId}\u0000${range.sourceId}\u0000${range.name}`

/** The rows of the hours [fromHour, toHour) that have any, read from the warehouse, as text per hour. */
async function readHours(reader: WarehouseReader, range: RollupRange, fromHour: number, toHour: number) {
  const rows = await runQuery(reader, hourlyRollupQuery, { ...range, from: fromHour, to: toHour })
  const byHour = new Map<number, string[]>()
  for (const row of rows) {
    const hour = row.hour_s * 1000
    const text = JSON.stringify({
      hour: new Date(hour).toISOString(),
      name: row.name,
      events: row.events,
      subjects: row.subjects,
      sessions: row.sessions,
    })
    const list = byHour.get(hour)
    if (list) list.push(text)
    else byHour.set(hour, [text])
  }
  return new Map([...byHour].map(([hour, list]): [number, HourText] => [hour, Buffer.from(list.join(','))]))
}

/**
 * The hourly rollup of a source as the JSON the API answers (`{"rows": [...]}`). Hours are whole:
 * those that start in [start of `from`'s hour, `to`). With a cache, each hour up to the current
 * one is kept apart, so a read asks the warehouse only for the hours it does not hold: after the
 * first read of a range, the hours that projections have written since.
 */
export async function readHourlyRollupJson(
  reader: WarehouseReader,
  cache: ReadCache | undefined,
  range: RollupRange,
): Promise<Buffer> {
  const firstHour = floorHour(range.from)
  const endHour = Math.max(firstHour, ceilHour(range.to))
  if (!cache || endHour - firstHour > MAX_CACHED_HOURS * HOUR_MS)
    return answer([...(await readHours(reader, range, firstHour, endHour)).values()])
  const lastCacheable = floorHour(Date.now())
  // The whole answer is kept too, for as long as none of its hours is written.
  const key = rangeKey(range)
  const wholeKey = `${key}\u0000${firstHour}-${endHour}`
  const whole = endHour - HOUR_MS <= lastCacheable ? cache.get(wholeKey) : undefined
  if (whole) return whole
  const mark = cache.mark()
  const known = new Map<number, HourText>()
  let missingFrom = Infinity
  let missingTo = -Infinity
  for (let hour = firstHour; hour < endHour; hour += HOUR_MS) {
    const text = hour <= lastCacheable ? cache.get(`${key}\u0000${hour}`) : undefined
    if (text !== undefined) known.set(hour, text)
    else {
      missingFrom = Math.min(missingFrom, hour)
      missingTo = hour + HOUR_MS
    }
  }
  if (missingTo > missingFrom) {
    // Readers that miss the same hours at once (after a write) read them once.
    const fresh = await cache.shared(
      `${key}\u0000${missingFrom}-${missingTo}`,
      scopeOf(range, missingFrom, missingTo),
      () => readHours(reader, range, missingFrom, missingTo),
    )
    for (let hour = missingFrom; hour < missingTo; hour += HOUR_MS) {
      const text = fresh.get(hour) ?? EMPTY
      known.set(hour, text)
      if (hour <= lastCacheable)
        cache.store(`${key}\u0000${hour}`, text, scopeOf(range, hour, hour + HOUR_MS), mark)
    }
  }
  const texts: HourText[] = []
  for (let hour = firstHour; hour < endHour; hour += HOUR_MS) texts.push(known.get(hour) ?? EMPTY)
  const json = answer(texts)
  if (endHour - HOUR_MS <= lastCacheable)
    cache.store(wholeKey, json, scopeOf(range, firstHour, endHour), mark)
  return json
}

const scopeOf = (range: RollupRange, fromHour: number, toHour: number): AnswerScope => ({
  accountId: range.accountId,
  sourceId: range.sourceId,
  fromHour,
  toHour,
})

const answer = (texts: readonly HourText[]) => {
  const parts: Buffer[] = [OPEN]
  for (const text of texts) {
    if (text.length === 0) continue
    if (parts.length > 1) parts.push(COMMA)
    parts.push(text)
  }
  parts.push(CLOSE)
  return Buffer.concat(parts)
}
