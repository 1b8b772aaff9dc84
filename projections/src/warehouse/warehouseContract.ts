import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineQuery, defineStatement, noParams } from './namedStatements.ts'
import { FILE_INSERT_ROWS, type Warehouse } from './warehouse.ts'
import { WarehouseRejectedError } from './warehouseErrors.ts'

export interface WarehouseHarness {
  /** A warehouse over an empty database of its own. */
  open(database: string): Promise<Warehouse>
}

const ddl = (name: string, sql: (table: (name: string) => string) => string) =>
  defineStatement({ name, kind: 'schema', params: noParams, sql: (w) => sql((t) => w.table(t)) })

/** A table of numbers that remembers the last 100 batches' deduplication tokens. */
const numbersTable = (name: string) =>
  ddl(
    name,
    (t) => `CREATE TABLE ${t(name)} (x UInt32) ENGINE = MergeTree ORDER BY x
                 SETTINGS non_replicated_deduplication_window = 100`,
  )

const values = (table: string) =>
  defineQuery({
    name: `values of ${table}`,
    params: noParams,
    row: z.object({ x: z.coerce.number() }),
    sql: (w) => `SELECT x FROM ${w.table(table)} ORDER BY x`,
  })

const total = (table: string) =>
  defineQuery({
    name: `total of ${table}`,
    params: noParams,
    row: z.object({ n: z.coerce.number() }),
    sql: (w) => `SELECT sum(n) AS n FROM ${w.table(table)}`,
  })

/** A table `raw` of the given columns (among them `k String` and `n UInt32`) summing `n` by `k` into `sums` through a view. */
async function rawWithSums(warehouse: Warehouse, columns: string) {
  await warehouse.run(
    ddl(
      'raw',
      (t) => `CREATE TABLE ${t('raw')} (${columns}) ENGINE = MergeTree ORDER BY k
              SETTINGS non_replicated_deduplication_window = 100`,
    ),
    {},
  )
  await warehouse.run(
    ddl(
      'sums',
      (t) => `CREATE TABLE ${t('sums')} (k String, n SimpleAggregateFunction(sum, UInt64))
              ENGINE = AggregatingMergeTree ORDER BY k SETTINGS non_replicated_deduplication_window = 100`,
    ),
    {},
  )
  await warehouse.run(
    ddl(
      'view',
      (t) => `CREATE MATERIALIZED VIEW ${t('sums_mv')} TO ${t('sums')} AS
              SELECT k, sum(n) AS n FROM ${t('raw')} GROUP BY k`,
    ),
    {},
  )
}

/** The behaviour every warehouse (chDB in-process, a ClickHouse server) must show. Run it against each. */
export function describeWarehouseContract(adapter: string, harness: WarehouseHarness) {
  describe(`warehouse contract: ${adapter}`, () => {
    const open: Warehouse[] = []
    const fresh = async () => {
      const warehouse = await harness.open(`contract_${randomUUID().replaceAll('-', '').slice(0, 12)}`)
      open.push(warehouse)
      return warehouse
    }
    afterAll(async () => {
      for (const warehouse of open.splice(0)) await warehouse.close()
    })

    it('given an insert under a deduplication token, then the next inserts do not inherit the token', async () => {
      const warehouse = await fresh()
      await warehouse.run(numbersTable('t'), {})
      await warehouse.insert('t', [{ x: 1 }], { token: 'batch-1' })
      // Were the token kept for the session, these two would be dropped as duplicates of batch-1.
      await warehouse.insert('t', [{ x: 2 }])
      await warehouse.insert('t', [{ x: 3 }])
      expect((await warehouse.select(values('t'), {})).map((row) => row.x)).toEqual([1, 2, 3])
    })

    it('given a rewrite, which writes without deduplication, then the requests after it still deduplicate batches by their tokens', async () => {
      const warehouse = await fresh()
      await warehouse.run(numbersTable('r'), {})
      const copy = defineStatement({
        name: 'copy ones',
        kind: 'rewrite',
        params: noParams,
        sql: (w) => `INSERT INTO ${w.table('r')} SELECT x + 10 FROM ${w.table('r')} WHERE x = 1`,
      })
      await warehouse.insert('r', [{ x: 1 }], { token: 'batch-1' })
      await warehouse.run(copy, {})
      // Were the rewrite's settings kept for the session, both of these would be written again.
      await warehouse.insert('r', [{ x: 2 }], { token: 'batch-2' })
      await warehouse.insert('r', [{ x: 2 }], { token: 'batch-2' })
      await warehouse.insert('r', [{ x: 1 }], { token: 'batch-1' })
      expect((await warehouse.select(values('r'), {})).map((row) => row.x)).toEqual([1, 2, 11])
      // And a batch's token does not reach the rewrite after it: the rewrite writes its rows again.
      await warehouse.run(copy, {})
      expect((await warehouse.select(values('r'), {})).map((row) => row.x)).toEqual([1, 2, 11, 11])
    })

    it('given a table feeding a materialized view, when one batch is inserted twice under its token, then both tables hold it once', async () => {
      const warehouse = await fresh()
      await rawWithSums(warehouse, 'k String, n UInt32')
      const batch = [
        { k: 'a', n: 2 },
        { k: 'b', n: 5 },
      ]
      await warehouse.insert('raw', batch, { token: 'batch-7' })
      await warehouse.insert('raw', batch, { token: 'batch-7' })
      await warehouse.insert('raw', [{ k: 'a', n: 1 }], { token: 'batch-8' })
      expect((await warehouse.select(total('raw'), {}))[0]?.n).toBe(8)
      expect((await warehouse.select(total('sums'), {}))[0]?.n).toBe(8)
    })

    it('given a batch large enough to be loaded as a file, then it holds the values, defaults and deduplication of a small one', async () => {
      const warehouse = await fresh()
      await rawWithSums(warehouse, `k String, ts DateTime64(3, 'UTC'), d String DEFAULT 'default', n UInt32`)
      const awkward = [
        "it's",
        'a\ttab',
        'back\\slash',
        'new\nline',
        "'); DROP TABLE raw; --",
        'Магазин №1 🛒',
        'ends in a backslash\\',
        "\\'",
        'nul\u0000byte',
        '{wanted:String}',
      ]
      const rows = Array.from({ length: FILE_INSERT_ROWS + 1 }, (_, i) => ({
        k: awkward[i % awkward.length]!,
        ts: 1_700_000_000_000 + i,
        n: 1,
        ...(i === 0 ? { d: 'given' } : {}),
      }))
      await warehouse.insert('raw', rows, { token: 'bulk-1' })
      await warehouse.insert('raw', rows, { token: 'bulk-1' })
      const stored = defineQuery({
        name: 'bulk rows',
        params: noParams,
        row: z.object({ k: z.string(), ts: z.string(), d: z.string(), n: z.coerce.number() }),
        sql: (w) => `SELECT k, toString(ts) AS ts, d, n FROM ${w.table('raw')} ORDER BY ts LIMIT 7`,
      })
      expect(await warehouse.select(stored, {})).toEqual(
        rows.slice(0, 7).map((row, i) => ({
          k: row.k,
          ts: new Date(row.ts).toISOString().replace('T', ' ').replace('Z', ''),
          d: i === 0 ? 'given' : 'default',
          n: 1,
        })),
      )
      expect((await warehouse.select(total('raw'), {}))[0]?.n).toBe(rows.length)
      expect((await warehouse.select(total('sums'), {}))[0]?.n).toBe(rows.length)
    })

    it('given a column whose type changes between two bulk loads, then the second stores its values by the new type', async () => {
      const warehouse = await fresh()
      await rawWithSums(warehouse, `k String, t DateTime64(3, 'UTC'), n UInt32`)
      const bulk = (t: number) =>
        Array.from({ length: FILE_INSERT_ROWS }, (_, i) => ({ k: `k${i}`, t, n: 1 }))
      await warehouse.insert('raw', bulk(1_700_000_000_000))
      // A DateTime counts seconds where a DateTime64(3) counts milliseconds: a load written for the
      // old type would store 1970-01-20.
      await warehouse.run(
        ddl('retype t', (t) => `ALTER TABLE ${t('raw')} MODIFY COLUMN t DateTime('UTC')`),
        {},
      )
      await warehouse.insert('raw', bulk(1_800_000_000))
      const times = defineQuery({
        name: 'distinct times',
        params: noParams,
        row: z.object({ t: z.string(), rows: z.coerce.number() }),
        sql: (w) => `SELECT toString(t) AS t, count() AS rows FROM ${w.table('raw')} GROUP BY t ORDER BY t`,
      })
      expect(await warehouse.select(times, {})).toEqual([
        { t: '2023-11-14 22:13:20', rows: FILE_INSERT_ROWS },
        { t: '2027-01-15 08:00:00', rows: FILE_INSERT_ROWS },
      ])
    })

    it('given the same rows of every common type loaded as a file and in small batches, then both tables hold exactly the same values', async () => {
      const warehouse = await fresh()
      const columns = `k String, lc LowCardinality(String), u8 UInt8, u32 UInt32, u64 UInt64, i64 Int64,
        f Float64, t DateTime64(3, 'UTC'), t0 DateTime('UTC'), n Nullable(UInt64), a Array(String),
        d String DEFAULT 'default'`
      for (const name of ['whole', 'parts'])
        await warehouse.run(
          ddl(name, (t) => `CREATE TABLE ${t(name)} (${columns}) ENGINE = MergeTree ORDER BY (u32, k)`),
          {},
        )
      const awkward = [
        'plain',
        "it's",
        'a\ttab',
        'new\nline',
        'back\\slash',
        'nul\u0000byte',
        'Магазин №1 🛒',
        '',
        'ê',
      ]
      const rows = Array.from({ length: FILE_INSERT_ROWS + 3 }, (_, i) => ({
        k: awkward[i % awkward.length]!,
        lc: `name-${i % 7}`,
        u8: i % 256,
        u32: i,
        u64: i % 5 === 0 ? Number.MAX_SAFE_INTEGER - i : i * 1_000_003,
        i64: -i * 7_919,
        f: i / 7,
        t: 1_700_000_000_000 + i * 61_001,
        t0: 1_700_000_000 + i,
        n: i % 3 === 0 ? null : i,
        a: awkward.slice(0, i % 4),
      }))
      await warehouse.insert('whole', rows, { token: 'whole-1' })
      for (let from = 0; from < rows.length; from += 1_000)
        await warehouse.insert('parts', rows.slice(from, from + 1_000), { token: `parts-${from}` })
      const content = (table: string) =>
        defineQuery({
          name: `content of ${table}`,
          params: noParams,
          row: z.object({ rows: z.coerce.number(), hash: z.string(), sample: z.string() }),
          sql: (w) => `SELECT count() AS rows, toString(groupBitXor(cityHash64(*))) AS hash,
                              toJSONString(arraySort(row -> tupleElement(row, 4), groupArrayIf(tuple(*), u32 IN (0, 1, 5, 20002)))) AS sample
                       FROM ${w.table(table)}`,
        })
      const [whole] = await warehouse.select(content('whole'), {})
      expect(whole).toEqual((await warehouse.select(content('parts'), {}))[0])
      expect(whole?.rows).toBe(rows.length)
      const sample = JSON.parse(whole!.sample) as unknown[][]
      expect(sample.find((row) => row[3] === 5)).toEqual([
        'nul\u0000byte',
        'name-5',
        5,
        5,
        Number.MAX_SAFE_INTEGER - 5,
        -39_595,
        5 / 7,
        '2023-11-14 22:18:25.005',
        '2023-11-14 22:13:25',
        5,
        ['plain'],
        'default',
      ])
    })

    it('binds parameters: awkward text goes in and comes back unchanged, and is never read as SQL', async () => {
      const warehouse = await fresh()
      await warehouse.run(
        ddl('texts', (t) => `CREATE TABLE ${t('texts')} (s String) ENGINE = MergeTree ORDER BY s`),
        {},
      )
      const awkward = [
        "it's",
        'a\ttab',
        'back\\slash',
        'new\nline',
        "'); DROP TABLE texts; --",
        'Магазин №1 🛒',
        'ends in a backslash\\',
        "\\'",
        'nul\u0000byte',
        '{wanted:String}',
      ]
      await warehouse.insert(
        'texts',
        awkward.map((s) => ({ s })),
      )
      const matching = defineQuery({
        name: 'texts matching',
        params: z.object({ wanted: z.array(z.string()) }),
        row: z.object({ s: z.string() }),
        sql: (w) => `SELECT s FROM ${w.table('texts')} WHERE s IN {wanted:Array(String)} ORDER BY s`,
      })
      expect((await warehouse.select(matching, { wanted: awkward })).map((row) => row.s)).toEqual(
        [...awkward].sort(),
      )
      expect(await warehouse.select(matching, { wanted: ["x' OR '1'='1"] })).toEqual([])
      const one = defineQuery({
        name: 'one text',
        params: z.object({ wanted: z.string(), limit: z.number() }),
        row: z.object({ s: z.string() }),
        sql: (w) => `SELECT s FROM ${w.table('texts')} WHERE s = {wanted:String} LIMIT {limit:UInt32}`,
      })
      for (const text of awkward)
        expect(await warehouse.select(one, { wanted: text, limit: 2 }), JSON.stringify(text)).toEqual([
          { s: text },
        ])
      // A list too long for a URL: a server takes it in the request body.
      const many = [...Array.from({ length: 3_000 }, (_, i) => `id-${i}'\\`), awkward[0]!]
      expect((await warehouse.select(matching, { wanted: many })).map((row) => row.s)).toEqual([awkward[0]])
      expect(await warehouse.ping()).toBe(true)
    })

    it('waits for a mutation to finish, and writes a rewrite every time it runs', async () => {
      const warehouse = await fresh()
      await warehouse.run(numbersTable('m'), {})
      await warehouse.insert('m', [{ x: 1 }, { x: 2 }, { x: 3 }])
      const remove = defineStatement({
        name: 'remove',
        kind: 'mutation',
        params: z.object({ below: z.number() }),
        sql: (w) => `ALTER TABLE ${w.table('m')} DELETE WHERE x < {below:UInt32}`,
      })
      await warehouse.run(remove, { below: 3 })
      expect((await warehouse.select(values('m'), {})).map((row) => row.x)).toEqual([3])
      const copy = defineStatement({
        name: 'copy',
        kind: 'rewrite',
        params: noParams,
        sql: (w) => `INSERT INTO ${w.table('m')} SELECT x + 10 FROM ${w.table('m')} WHERE x = 3`,
      })
      await warehouse.run(copy, {})
      await warehouse.run(copy, {})
      expect((await warehouse.select(values('m'), {})).map((row) => row.x)).toEqual([3, 13, 13])
    })

    it('answers what the engine refuses with a rejected error naming the engine error, and does not retry it', async () => {
      const warehouse = await fresh()
      await warehouse.run(
        ddl('s', (t) => `CREATE TABLE ${t('s')} (s String) ENGINE = MergeTree ORDER BY s`),
        {},
      )
      const missing = defineQuery({
        name: 'a table that is not there',
        params: noParams,
        row: z.object({ n: z.number() }),
        sql: (w) => `SELECT 1 AS n FROM ${w.table('nowhere')}`,
      })
      const refused = await warehouse.select(missing, {}).catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(WarehouseRejectedError)
      expect(refused).toMatchObject({
        code: 'WAREHOUSE_REJECTED',
        retryable: false,
        engineType: 'UNKNOWN_TABLE',
      })
      // A lone UTF-16 surrogate cannot be parsed as JSON text by the engine.
      const unpaired = await warehouse.insert('s', [{ s: 'x\ud800' }]).catch((error: unknown) => error)
      expect(unpaired).toMatchObject({
        code: 'WAREHOUSE_REJECTED',
        engineType: 'CANNOT_PARSE_ESCAPE_SEQUENCE',
      })
    })
  })
}
