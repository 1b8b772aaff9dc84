import type { Logger } from 'pino'
import type { Warehouse } from '../warehouse/warehouse.ts'
import type { BatchLedger, LaneKey, PartitionLedger } from './batchLedger.ts'
import { createBatchRepair } from './batchRepair.ts'
import type { CheckpointStore } from './checkpointStore.ts'

/** Longest time a running lane goes without saving where it stands. */
const IDLE_SAVE_MS = 5_000
/** When caught up, a lane saves where it stands at most this often. */
const CAUGHT_UP_SAVE_MS = 1_000

interface LaneBook {
  generation: number
  committed: number
  /** What the checkpoint store holds as committed. */
  saved: number
  savedAt: number
  /** The range a crashed or failed attempt may have written part of: repaired, not rewritten. */
  doubt: { from: number; to: number } | null
}

/**
 * Exactly-once for a log with one writer per partition (the embedded log: one process, one
 * worker). Before a lane's first insert of a batch the batch's range is saved as pending; a
 * restart, or a retry after a failed attempt, repairs that exact range (createBatchRepair): what
 * of it is missing is written, what its views hold is recomputed. Batches written the first time
 * carry deduplication tokens derived from their range as well.
 *
 * Committed positions are saved at most once a second when caught up and at least every few
 * seconds otherwise: a batch that inserts nothing needs no checkpoint write, and a later batch's
 * pending mark commits the earlier ones. What the store holds may so lag behind; after a crash
 * the lane reads from there again, and the batches it repeats are either the one in doubt
 * (repaired) or ones that inserted nothing (and insert nothing again). Within a process the
 * books are kept across failures: a retry resumes where the lane really stands.
 *
 * The log drops re-sent ids when they are appended, so every record of a batch is fresh.
 */
export function createSingleWriterLedger(options: {
  warehouse: Warehouse
  checkpoints: CheckpointStore
  logger: Logger
}): BatchLedger {
  const { warehouse, checkpoints, logger } = options
  /** By `${partition}:${key}`. */
  const books = new Map<string, LaneBook>()
  return {
    async open(partition): Promise<PartitionLedger> {
      const bookOf = (lane: LaneKey) => {
        const found = books.get(`${partition}:${lane.key}`)
        if (!found || found.generation !== lane.generation)
          throw new Error(`lane ${lane.key} g${lane.generation} was not resumed in partition ${partition}`)
        return found
      }
      /** Saves where the lane stands; a range still in doubt beyond it stays pending. */
      const save = async (key: string, book: LaneBook, pending: { from: number; to: number } | null) => {
        const doubt =
          book.doubt && book.doubt.to > book.committed ? { from: book.committed, to: book.doubt.to } : null
        const committed = pending ? pending.from : book.committed
        await checkpoints.save(
          key,
          { committed, pending: pending ?? doubt, generation: book.generation },
          partition,
        )
        book.saved = committed
        book.savedAt = Date.now()
      }
      return {
        async resume(key) {
          const id = `${partition}:${key}`
          const checkpoint = await checkpoints.load(key, partition)
          const known = books.get(id)
          // This process knows better, unless a replay has opened a newer generation since.
          if (known && known.generation >= checkpoint.generation && known.committed >= checkpoint.committed) {
            return { committed: known.committed, generation: known.generation }
          }
          books.set(id, {
            generation: checkpoint.generation,
            committed: checkpoint.committed,
            saved: checkpoint.committed,
            savedAt: Date.now(),
            doubt: checkpoint.pending,
          })
          if (checkpoint.pending) {
            logger.info(
              { projection: key, partition, ...checkpoint.pending },
              'a batch was in flight when the projection stopped: it is repaired first',
            )
          }
          return { committed: checkpoint.committed, generation: checkpoint.generation }
        },
        async settle(from, proposedTo, controlHead, keys) {
          // A batch in doubt is written again over exactly its range.
          let to: number | null = null
          for (const key of keys) {
            const doubt = books.get(`${partition}:${key}`)?.doubt
            if (doubt && doubt.from === from) to = Math.min(to ?? doubt.to, doubt.to)
          }
          return { from, to: to ?? proposedTo, cut: controlHead }
        },
        fresh: async (_batch, records) => [...records],
        keepsEveryRecord: true,
        async write(lane, batch, apply, retry) {
          const book = bookOf(lane)
          const overlaps = book.doubt !== null && book.doubt.from < batch.to && batch.from < book.doubt.to
          const repair = retry || overlaps ? createBatchRepair(warehouse, batch, logger) : null
          let n = 0
          /** The next insert's token, once the batch is marked pending (before its first insert). */
          const nextToken = async (table: string) => {
            if (n === 0 && !repair) await save(lane.key, book, { ...batch })
            return `${lane.key}:g${book.generation}:${batch.from}-${batch.to}:${table}:${n++}`
          }
          await apply(
            async (table, rows) => {
              if (rows.length === 0) return
              const token = await nextToken(table)
              if (repair) await repair.insert(table, rows, token)
              else await warehouse.insert(table, rows, { token })
            },
            repair
              ? null
              : async (table, rows) => {
                  if (rows.count > 0)
                    await warehouse.insertEncoded(table, rows, { token: await nextToken(table) })
                },
          )
          await repair?.finish()
          if (book.doubt && batch.to >= book.doubt.to) book.doubt = null
        },
        async advance(lane, to, caughtUp) {
          const book = bookOf(lane)
          book.committed = to
          const since = Date.now() - book.savedAt
          if (
            book.committed > book.saved &&
            (since > IDLE_SAVE_MS || (caughtUp && since > CAUGHT_UP_SAVE_MS))
          ) {
            await save(lane.key, book, null)
          }
        },
        async flush() {
          for (const [id, book] of books) {
            const [held, key] = [Number(id.slice(0, id.indexOf(':'))), id.slice(id.indexOf(':') + 1)]
            if (held === partition && book.committed > book.saved) await save(key, book, null)
          }
        },
      }
    },
  }
}
