import { z } from 'zod'
import { type Projection, projectionKey } from '../projection.ts'
import { tables } from '../tables.ts'
import {
  defineQuery,
  defineStatement,
  type NamedQuery,
  type NamedStatement,
  noParams,
  type TableNames,
} from '../warehouse/namedStatements.ts'
import type { Warehouse } from '../warehouse/warehouse.ts'

/**
 * Generations of a projection's tables. The serving generation lives under the tables' own names,
 * which every reader uses. A rebuild creates the next generation beside it under suffixed names
 * (`events_raw__g2`), fills it from the log while the serving one keeps answering, and then
 * exchanges each table with its namesake in one statement (`EXCHANGE TABLES`, atomic for readers):
 * a reader sees one generation's table or the other's, each complete, never a half-built one.
 */

/** The stages of a generation, in order; `cancelled` ends a build that was abandoned. */
export type GenerationStage = 'building' | 'switching' | 'serving' | 'cancelled'

/** What a switch needs to know, recorded when the build begins: it survives a crash of any process. */
export interface GenerationPlan {
  /** The projection's tables holding rows (not its views), by their serving names. */
  readonly tables: readonly string[]
  /** Those of `tables` whose serving rows the built generation lacks are carried over to it at the switch. */
  readonly carriedOver: readonly string[]
  /** Each built table's UUID: a table whose serving name carries it has been exchanged already. */
  readonly builtUuids: Readonly<Record<string, string>>
  /** The projection's materialized views: their serving names and the statements that create them. */
  readonly views: readonly { readonly name: string; readonly create: string }[]
}

export interface GenerationState {
  readonly generation: number
  readonly stage: GenerationStage
  readonly plan: GenerationPlan
  /** Per partition, the log heads the build follows to before it switches. */
  readonly target: readonly number[]
  /** When the stage was recorded (milliseconds since the epoch); absent before it is. */
  readonly at?: number
}

const GenerationPlanSchema = z.object({
  tables: z.array(z.string()),
  carriedOver: z.array(z.string()).default([]),
  builtUuids: z.record(z.string(), z.string()),
  views: z.array(z.object({ name: z.string(), create: z.string() })),
})

const SUFFIX = /__g\d+$/

/** A table's name in a generation being built beside the serving one. */
export const builtName = (table: string, generation: number) => `${table}__g${generation}`

/** A table's serving name, from its name in any generation. */
export const servingName = (table: string) => table.replace(SUFFIX, '')

/** The checkpoint (and lane) key of a generation being built: apart from the serving one's. */
export const buildKey = (projection: Pick<Projection, 'name' | 'version'>, generation: number) =>
  projectionKey({ name: `${projection.name}~g${generation}`, version: projection.version })

/** Names every table of `set` by its name in `generation`, others as they are. */
const generationNames = (names: TableNames, set: ReadonlySet<string>, generation: number): TableNames => ({
  table: (name) => names.table(set.has(name) ? builtName(name, generation) : name),
})

/**
 * The warehouse as a generation being built sees it: the projection's tables are its own
 * generation's; everything else (control tables, checkpoints) is shared.
 */
export function generationWarehouse(
  warehouse: Warehouse,
  set: ReadonlySet<string>,
  generation: number,
): Warehouse {
  const rename = (name: string) => (set.has(name) ? builtName(name, generation) : name)
  const names = generationNames(warehouse, set, generation)
  const query = <P extends z.ZodType, R extends z.ZodType>(q: NamedQuery<P, R>): NamedQuery<P, R> => ({
    ...q,
    sql: () => q.sql(names),
  })
  const statement = <P extends z.ZodType>(s: NamedStatement<P>): NamedStatement<P> => ({
    ...s,
    sql: () => s.sql(names),
  })
  return {
    ...warehouse,
    table: names.table,
    select: (q, params) => warehouse.select(query(q), params),
    run: (s, params) => warehouse.run(statement(s), params),
    insert: (table, rows, options) => warehouse.insert(rename(table), rows, options),
    encoder: (table) => warehouse.encoder(rename(table)),
    insertEncoded: (table, rows, options) => warehouse.insertEncoded(rename(table), rows, options),
  }
}

/**
 * The projection as the runtime runs it into a generation being built: its own lane and
 * checkpoints (`buildKey`), its inserts and erasures landing in that generation's tables.
 */
export function buildingProjection(projection: Projection, generation: number): Projection {
  const set = new Set(projection.tables)
  const rename = (table: string) => (set.has(table) ? builtName(table, generation) : table)
  const built: Projection = {
    name: `${projection.name}~g${generation}`,
    version: projection.version,
    tables: projection.tables.map(rename),
    ...(projection.appliesInChunks ? { appliesInChunks: true } : {}),
    apply: (records, context) =>
      projection.apply(records, {
        ...context,
        insert: (table, rows) => context.insert(rename(table), rows),
      }),
    reset: (warehouse) => projection.reset(generationWarehouse(warehouse, set, generation)),
  }
  const { erase } = projection
  if (erase) {
    built.erase = (erasure, context) =>
      erase(erasure, { ...context, warehouse: generationWarehouse(context.warehouse, set, generation) })
  }
  return built
}

// --- The projection's tables in the warehouse ---------------------------------------------------

const tableFacts = defineQuery({
  name: 'tables of a projection',
  params: z.object({ db: z.string() }),
  row: z.object({ name: z.string(), engine: z.string(), uuid: z.string(), create_table_query: z.string() }),
  sql: () => `SELECT name, engine, toString(uuid) AS uuid, create_table_query FROM system.tables
               WHERE database = {db:String}`,
})

async function tablesIn(warehouse: Warehouse) {
  return warehouse.select(tableFacts, { db: warehouse.database })
}

const ddl = (name: string, sql: string) =>
  defineStatement({ name, kind: 'schema', params: noParams, sql: () => sql })

const runDdl = (warehouse: Warehouse, name: string, sql: string) => warehouse.run(ddl(name, sql), {})

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The view's statement with every table of the projection named as in `generation`. */
const renameIn = (create: string, database: string, names: readonly string[], generation: number) => {
  let out = create
  for (const name of names) {
    out = out.replace(
      new RegExp(`\\b${escapeRegExp(database)}\\.${escapeRegExp(name)}\\b`, 'g'),
      `${database}.${builtName(name, generation)}`,
    )
  }
  return out
}

/** A view that reads one of `tables` (its FROM) and writes another (its TO) is the projection's. */
const belongsTo = (create: string, database: string, set: ReadonlySet<string>) => {
  const target = new RegExp(`\\bTO ${escapeRegExp(database)}\\.(\\w+)`).exec(create)?.[1]
  const source = new RegExp(`\\bFROM ${escapeRegExp(database)}\\.(\\w+)`).exec(create)?.[1]
  return target !== undefined && source !== undefined && set.has(target) && set.has(source)
}

/** The serving materialized views of the projection: each reads one of its tables and writes another. */
const viewsOf = (rows: Awaited<ReturnType<typeof tablesIn>>, database: string, set: ReadonlySet<string>) =>
  rows
    .filter((row) => row.engine === 'MaterializedView' && !SUFFIX.test(row.name))
    .filter((row) => belongsTo(row.create_table_query, database, set))

/** Drops whatever a generation left under its built names: after a switch, the old generation. */
export async function dropBuiltTables(warehouse: Warehouse, projection: Projection, generation: number) {
  const rows = await tablesIn(warehouse)
  const views = viewsOf(rows, warehouse.database, new Set(projection.tables)).map((row) => row.name)
  const names = new Set([...projection.tables, ...views])
  const isView = (row: { engine: string }) => Number(row.engine === 'MaterializedView')
  // Views first: a view left over a dropped table would dangle.
  const built = rows
    .filter(
      (row) => row.name === builtName(servingName(row.name), generation) && names.has(servingName(row.name)),
    )
    .sort((a, b) => isView(b) - isView(a))
  for (const row of built) {
    await runDdl(warehouse, `drop ${row.name}`, `DROP TABLE IF EXISTS ${warehouse.table(row.name)} SYNC`)
  }
}

/**
 * Creates generation `generation` of the projection's tables beside the serving ones, empty:
 * each table with the serving one's structure and engine, each view with the serving one's query
 * over the new tables. Returns the plan a switch follows.
 */
export async function createGeneration(
  warehouse: Warehouse,
  projection: Projection,
  generation: number,
): Promise<GenerationPlan> {
  await dropBuiltTables(warehouse, projection, generation)
  const database = warehouse.database
  const set = new Set(projection.tables)
  const rows = await tablesIn(warehouse)
  const views = viewsOf(rows, database, set).map((row) => ({
    name: row.name,
    create: row.create_table_query,
  }))
  for (const table of projection.tables) {
    await runDdl(
      warehouse,
      `create ${builtName(table, generation)}`,
      `CREATE TABLE ${warehouse.table(builtName(table, generation))} AS ${warehouse.table(table)}`,
    )
  }
  const viewNames = views.map((view) => view.name)
  for (const view of views) {
    await runDdl(
      warehouse,
      `create ${builtName(view.name, generation)}`,
      renameIn(view.create, database, [...projection.tables, ...viewNames], generation),
    )
  }
  const after = await tablesIn(warehouse)
  const builtUuids: Record<string, string> = {}
  for (const table of projection.tables) {
    const row = after.find((r) => r.name === builtName(table, generation))
    if (!row) throw new Error(`table ${builtName(table, generation)} was not created`)
    builtUuids[table] = row.uuid
  }
  return {
    tables: [...projection.tables],
    carriedOver: [...(projection.carriedOver ?? [])],
    builtUuids,
    views,
  }
}

/**
 * Copies into the built table the serving table's rows it does not hold yet. Nothing writes
 * either while the switch runs, and a copy done again adds nothing.
 */
const carryOver = (warehouse: Warehouse, serving: string, built: string) =>
  warehouse.run(
    defineStatement({
      name: `carry ${serving} over`,
      kind: 'rewrite',
      params: noParams,
      sql: (w) => `INSERT INTO ${w.table(built)}
                   SELECT * FROM ${w.table(serving)} EXCEPT DISTINCT SELECT * FROM ${w.table(built)}`,
    }),
    {},
  )

/**
 * Puts the built generation under the serving names. Runs while nothing writes the projection,
 * and is safe to run again from any point: a table whose serving name already carries the built
 * UUID is not exchanged twice. Rows of the tables carried over are copied into their built twin
 * just before it is exchanged. Views are bound to their tables by identity, not by name, so both
 * generations' views are dropped and the serving ones created again over the serving names.
 */
export async function switchGeneration(warehouse: Warehouse, plan: GenerationPlan, generation: number) {
  for (const view of plan.views) {
    await runDdl(
      warehouse,
      `drop view ${view.name}`,
      `DROP TABLE IF EXISTS ${warehouse.table(view.name)} SYNC`,
    )
    const built = builtName(view.name, generation)
    await runDdl(warehouse, `drop view ${built}`, `DROP TABLE IF EXISTS ${warehouse.table(built)} SYNC`)
  }
  const rows = await tablesIn(warehouse)
  for (const table of plan.tables) {
    const serving = rows.find((row) => row.name === table)
    if (serving?.uuid === plan.builtUuids[table]) continue
    if (plan.carriedOver.includes(table)) await carryOver(warehouse, table, builtName(table, generation))
    await runDdl(
      warehouse,
      `exchange ${table}`,
      `EXCHANGE TABLES ${warehouse.table(table)} AND ${warehouse.table(builtName(table, generation))}`,
    )
  }
  for (const view of plan.views) {
    await runDdl(
      warehouse,
      `create view ${view.name}`,
      view.create.replace(/^CREATE MATERIALIZED VIEW /, 'CREATE MATERIALIZED VIEW IF NOT EXISTS '),
    )
  }
}

// --- Generation states ------------------------------------------------------------------------

const generationStates = defineQuery({
  name: 'latest generation of every projection',
  params: noParams,
  row: z.object({
    projection_name: z.string(),
    generation: z.coerce.number().int(),
    stage: z.enum(['building', 'switching', 'serving', 'cancelled']),
    plan: z.string(),
    target: z.string(),
    at: z.coerce.number(),
  }),
  sql: (w) => `SELECT projection_name, generation, stage, plan, target, toUnixTimestamp64Milli(at) AS at
               FROM ${w.table(tables.projectionGenerations)}
               ORDER BY projection_name, generation DESC, stage DESC LIMIT 1 BY projection_name`,
})

/** The latest generation (and its stage) of every projection ever rebuilt, by projection key. */
export async function loadGenerationStates(warehouse: Warehouse): Promise<Map<string, GenerationState>> {
  const rows = await warehouse.select(generationStates, {})
  return new Map(
    rows.map((row) => [
      row.projection_name,
      {
        generation: row.generation,
        stage: row.stage,
        plan: GenerationPlanSchema.parse(JSON.parse(row.plan)),
        target: z.array(z.number()).parse(JSON.parse(row.target)),
        at: row.at,
      },
    ]),
  )
}

/** Records a generation's stage: rows only accumulate, the furthest stage of the newest generation wins. */
export const recordGeneration = (warehouse: Warehouse, key: string, state: GenerationState) =>
  warehouse.insert(tables.projectionGenerations, [
    {
      projection_name: key,
      generation: state.generation,
      stage: state.stage,
      plan: JSON.stringify(state.plan),
      target: JSON.stringify(state.target),
      at: Date.now(),
    },
  ])
