import { isWellFormed } from '@hourglass/schemas'

/**
 * Rows encoded in ClickHouse's RowBinary format, for bulk inserts through a file on chDB: chDB
 * reads RowBinary for about a third less CPU per row than JSONEachRow, and encoding it costs a
 * fraction of JSON.stringify. The encoding is an optimisation only: it answers null whenever it
 * cannot give exactly what the JSONEachRow insert would store (a column type or a value it does not
 * handle, rows of different shapes, text that is not well-formed Unicode), and the caller then
 * inserts the rows as JSON.
 */

/** A column of the target table, as `system.columns` describes it. */
export interface TableColumn {
  readonly name: string
  readonly type: string
}

/** What to insert: the rows' bytes, the columns they fill in order, and the file's structure. */
export interface RowBinaryBody {
  readonly bytes: Buffer
  readonly columns: readonly string[]
  /** `name Type, …` for the `file()` table function. */
  readonly structure: string
}

class Sink {
  buffer: Buffer
  offset = 0
  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size)
  }
  reserve(bytes: number) {
    if (this.offset + bytes <= this.buffer.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes))
    this.buffer.copy(grown, 0, 0, this.offset)
    this.buffer = grown
  }
  varint(value: number) {
    this.reserve(5)
    while (value >= 0x80) {
      this.buffer[this.offset++] = (value & 0x7f) | 0x80
      value >>>= 7
    }
    this.buffer[this.offset++] = value
  }
}

/** Writes one value; false when it cannot be written exactly as JSONEachRow would store it. */
type Writer = (sink: Sink, value: unknown) => boolean

const TWO_32 = 2 ** 32

/** Strings of at most this many UTF-16 units are copied byte by byte when they are ASCII. */
const SHORT_STRING = 64

const writeString: Writer = (sink, value) => {
  if (typeof value !== 'string') return false
  const units = value.length
  if (units <= SHORT_STRING) {
    // ASCII (the common case: ids, names, keys) is its own UTF-8 and always well-formed.
    sink.reserve(units + 1)
    const { buffer } = sink
    const start = sink.offset + 1
    let i = 0
    for (; i < units; i++) {
      const unit = value.charCodeAt(i)
      if (unit >= 0x80) break
      buffer[start + i] = unit
    }
    if (i === units) {
      // A length below 128 is its own one-byte varint.
      buffer[sink.offset] = units
      sink.offset = start + units
      return true
    }
  }
  if (!isWellFormed(value)) return false
  const length = Buffer.byteLength(value, 'utf8')
  sink.varint(length)
  sink.reserve(length)
  sink.offset += sink.buffer.write(value, sink.offset, 'utf8')
  return true
}

/** An integer column of `bytes` bytes: a safe integer within its range. */
function integer(bytes: 1 | 2 | 4 | 8, signed: boolean): Writer {
  const max = bytes === 8 ? Number.MAX_SAFE_INTEGER : signed ? 2 ** (bytes * 8 - 1) - 1 : 2 ** (bytes * 8) - 1
  const min = !signed ? 0 : bytes === 8 ? Number.MIN_SAFE_INTEGER : -(2 ** (bytes * 8 - 1))
  return (sink, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) return false
    sink.reserve(bytes)
    const { buffer, offset } = sink
    if (bytes === 1) buffer.writeUIntLE(value < 0 ? value + 256 : value, offset, 1)
    else if (bytes === 2) signed ? buffer.writeInt16LE(value, offset) : buffer.writeUInt16LE(value, offset)
    else if (bytes === 4) signed ? buffer.writeInt32LE(value, offset) : buffer.writeUInt32LE(value, offset)
    else if (value >= 0) {
      buffer.writeUInt32LE(value % TWO_32, offset)
      buffer.writeUInt32LE(Math.floor(value / TWO_32), offset + 4)
    } else buffer.writeBigInt64LE(BigInt(value), offset)
    sink.offset += bytes
    return true
  }
}

const writeFloat64: Writer = (sink, value) => {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false
  sink.reserve(8)
  sink.offset = sink.buffer.writeDoubleLE(value, sink.offset)
  return true
}

const writeBool: Writer = (sink, value) => {
  if (typeof value !== 'boolean') return false
  sink.reserve(1)
  sink.buffer[sink.offset++] = value ? 1 : 0
  return true
}

/** The writer of a column type, with the type the file declares for it; null when not handled. */
function writerOf(type: string): { write: Writer; fileType: string } | null {
  const inner = (prefix: string) =>
    type.startsWith(`${prefix}(`) && type.endsWith(')') ? type.slice(prefix.length + 1, -1) : null
  const lowCardinality = inner('LowCardinality')
  if (lowCardinality !== null) return writerOf(lowCardinality)
  const nullable = inner('Nullable')
  if (nullable !== null) {
    const of = writerOf(nullable)
    if (!of) return null
    return {
      fileType: `Nullable(${of.fileType})`,
      write: (sink, value) => {
        sink.reserve(1)
        if (value === null) {
          sink.buffer[sink.offset++] = 1
          return true
        }
        sink.buffer[sink.offset++] = 0
        return of.write(sink, value)
      },
    }
  }
  const array = inner('Array')
  if (array !== null) {
    const of = writerOf(array)
    if (!of) return null
    return {
      fileType: `Array(${of.fileType})`,
      write: (sink, value) => {
        if (!Array.isArray(value)) return false
        sink.varint(value.length)
        for (const item of value) if (!of.write(sink, item)) return false
        return true
      },
    }
  }
  // A number for a DateTime64(3) is milliseconds, for a DateTime seconds, in JSONEachRow as here.
  if (/^DateTime64\(3(, *'[^']*')?\)$/.test(type)) return { fileType: type, write: integer(8, true) }
  if (/^DateTime(\('[^']*'\))?$/.test(type)) return { fileType: type, write: integer(4, false) }
  const sized = /^(U?)Int(8|16|32|64)$/.exec(type)
  if (sized)
    return { fileType: type, write: integer((Number(sized[2]) / 8) as 1 | 2 | 4 | 8, sized[1] !== 'U') }
  switch (type) {
    case 'String':
      return { fileType: type, write: writeString }
    case 'Float64':
      return { fileType: type, write: writeFloat64 }
    case 'Bool':
      return { fileType: type, write: writeBool }
    default:
      return null
  }
}

/**
 * Rows encoded as they come, a group at a time, into one RowBinary body: what a bulk load keeps
 * between its reads instead of the rows themselves. The first group fixes the columns (those its
 * first row names); `add` refuses a group, adding none of it, that cannot be written exactly (see
 * the module's note).
 */
export interface RowBinaryEncoder {
  /** Appends the rows; false, with nothing appended, when they cannot all be written exactly. */
  add(rows: readonly object[]): boolean
  /** Rows appended since the last `take`. */
  readonly count: number
  /** What was appended since the last `take` (null when nothing was), and starts a new body. */
  take(): RowBinaryBody | null
}

/** Bytes per row a body starts with; it grows as needed. */
const ROW_BYTES = 128

export function createRowBinaryEncoder(table: readonly TableColumn[]): RowBinaryEncoder {
  const types = new Map(table.map((column) => [column.name, column.type]))
  let layout: { names: string[]; writers: Writer[]; structure: string } | null = null
  let sink: Sink | null = null
  let count = 0
  /** The size of the last body taken: the next starts about that large rather than growing (and copying) its way there. */
  let lastSize = 0

  /** The columns the first row names, with their writers; null when one is not the table's or not handled. */
  const layoutOf = (first: object) => {
    const names = Object.keys(first)
    const writers: Writer[] = []
    const fileTypes: string[] = []
    for (const name of names) {
      const type = types.get(name)
      const of = type === undefined ? null : writerOf(type)
      if (!of) return null
      writers.push(of.write)
      fileTypes.push(of.fileType)
    }
    return {
      names,
      writers,
      structure: names.map((name, i) => `${quoteName(name)} ${fileTypes[i]}`).join(', '),
    }
  }

  return {
    add(rows) {
      const first = rows[0]
      if (!first) return true
      layout ??= layoutOf(first)
      if (!layout) return false
      const { names, writers } = layout
      sink ??= new Sink(Math.max(rows.length * ROW_BYTES, lastSize + (lastSize >> 3)))
      const start = sink.offset
      for (const row of rows) {
        const values = row as Record<string, unknown>
        let columns = 0
        for (const _ in values) columns++
        let written = columns === names.length
        for (let i = 0; written && i < names.length; i++) {
          const value = values[names[i]!]
          written = value !== undefined && writers[i]!(sink, value)
        }
        if (!written) {
          sink.offset = start
          return false
        }
      }
      count += rows.length
      return true
    },
    get count() {
      return count
    },
    take() {
      if (!layout || !sink || count === 0) return null
      const body = {
        bytes: sink.buffer.subarray(0, sink.offset),
        columns: layout.names,
        structure: layout.structure,
      }
      lastSize = sink.offset
      sink = null
      count = 0
      return body
    },
  }
}

/**
 * The rows as RowBinary for the columns the first row names, or null when they cannot all be
 * written exactly (see the module's note): every row must name the same columns, all of the table.
 */
export function encodeRowBinary(
  rows: readonly object[],
  table: readonly TableColumn[],
): RowBinaryBody | null {
  const encoder = createRowBinaryEncoder(table)
  return encoder.add(rows) ? encoder.take() : null
}

/** A column name as an identifier in backquotes. */
export const quoteName = (name: string) => `\`${name.replace(/[\\`]/g, '\\$&')}\``
