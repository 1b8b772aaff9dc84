import type { TelemetryRecord } from '@hourglass/log'
import type { BatchContext, Projection } from '../projection.ts'
import type { RowEncoder, Warehouse } from '../warehouse/warehouse.ts'
import type { BatchRange, LaneKey, PartitionLedger } from './batchLedger.ts'
import { checkedInsert } from './quarantine.ts'

/** A batch the warehouse, the ledger or a row does not let be streamed: it is written as objects. */
class NotStreamable extends Error {
  constructor() {
    super('the batch cannot be written encoded: written as objects')
  }
}

/**
 * How a streamed write ended: `written`; `untouched`, nothing written (the warehouse, the ledger
 * or the projection takes only objects, a row cannot be encoded, a record fails); `partly`, it
 * failed after its first insert went out, which may have written part of the batch. Either of the
 * last two is written again as objects, as any batch is (the last as after a failed attempt).
 */
export type StreamedOutcome =
  | { readonly status: 'written' }
  /** What stopped it: a row it could not encode, or the failure the batch meets again as objects. */
  | { readonly status: 'untouched' | 'partly'; readonly reason: unknown }

export interface StreamedWrite {
  readonly ledger: PartitionLedger
  readonly lane: LaneKey & { readonly projection: Projection }
  readonly batch: BatchRange
  /** The batch's records to apply, in order, a chunk at a time. */
  readonly chunks: AsyncIterable<readonly TelemetryRecord[]>
  readonly definitionOf: BatchContext['definitionOf']
  readonly warehouse: Pick<Warehouse, 'encoder'>
  /** Rows of a table per insert: the next rows are read and encoded while one goes out. */
  readonly insertRows: number
}

/**
 * A lane's share of a large batch behind the frontier (a rebuild's), applied a chunk of records
 * at a time: each chunk's rows are encoded as they are made and the records and rows let go.
 * Held as objects for the length of a batch's inserts, they outlived the young generation of the
 * heap, and copying them out of it cost a rebuild a third of its time; encoded, a row is about a
 * hundred bytes outside the heap. An insert of a table's rows goes out every `insertRows` rows
 * while the next chunks are read and encoded, at most one at a time, so that reading the log and
 * writing the warehouse overlap within a batch.
 */
export async function writeStreamed(write: StreamedWrite): Promise<StreamedOutcome> {
  const { ledger, lane, batch, chunks, definitionOf, warehouse, insertRows } = write
  let sent = 0
  try {
    await ledger.write(
      lane,
      batch,
      async (_insert, encoded) => {
        if (!encoded) throw new NotStreamable()
        const encoders = new Map<string, RowEncoder>()
        let writing: Promise<void> = Promise.resolve()
        const send = (table: string, encoder: RowEncoder) => {
          const rows = encoder.take()
          if (!rows) return
          sent++
          writing = writing.then(() => encoded(table, rows))
          // Seen by the `await` below, whatever happens in between.
          writing.catch(() => {})
        }
        const insert = checkedInsert(async (table, rows) => {
          let encoder = encoders.get(table)
          if (!encoder) {
            const made = await warehouse.encoder(table)
            if (!made) throw new NotStreamable()
            encoder = made
            encoders.set(table, encoder)
          }
          if (!encoder.add(rows)) throw new NotStreamable()
          if (encoder.count >= insertRows) {
            await writing
            send(table, encoder)
          }
        })
        try {
          for await (const records of chunks) await lane.projection.apply(records, { insert, definitionOf })
          for (const [table, encoder] of encoders) send(table, encoder)
        } finally {
          // No insert is left running behind a failure: the batch is written again after it.
          await writing.catch(() => {})
        }
        await writing
      },
      false,
    )
    return { status: 'written' }
  } catch (error) {
    return { status: sent === 0 ? 'untouched' : 'partly', reason: error }
  }
}
