import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { createQuarantineStore } from '@hourglass/projections'
import { seededRandom } from '@hourglass/projections/seededRandom'
import { startEmbedded } from '@hourglass/scripts'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { pino } from 'pino'
import {
  compareLogWithWarehouse,
  errorShapeProblem,
  type ProjectedTable,
  type StalledProjection,
  stalledProjections,
} from './fuzzChecks.ts'
import { createFuzzWorld, type FuzzWorld } from './fuzzWorld.ts'
import {
  type FuzzRequest,
  HOSTILE_CONTENT_TYPES,
  HOSTILE_QUERY_VALUES,
  HOSTILE_SEGMENTS,
  hostileAuthorizations,
  jsonBytes,
  mutateBody,
  pick,
  type Random,
  wholeBody,
} from './hostileInputs.ts'
import { type FuzzRoute, type OpenApiDocument, routesOf } from './openApiRoutes.ts'

export interface FuzzOptions {
  /** How many inputs to send at most. */
  readonly count: number
  readonly seed: number
  /** Time budget for sending, in seconds: past it, no more inputs are sent. */
  readonly seconds: number
  /** How long the projections get to catch up with the log once everything is sent. */
  readonly settleSeconds?: number
  /** Called now and then while sending. */
  readonly onProgress?: (progress: FuzzProgress) => void
}

export interface FuzzProgress {
  readonly inputs: number
  readonly count: number
  readonly elapsedMs: number
  readonly serverErrors: number
}

/** A request that broke a rule, as the report names it. */
export interface Finding {
  readonly route: string
  readonly mutation: string
  readonly url: string
  readonly status: number | null
  readonly answer: string
}

/** What can go wrong with one input. */
export type FindingKind = 'serverErrors' | 'offShape' | 'unanswered'

export interface FuzzReport {
  readonly seed: number
  readonly inputs: number
  readonly routes: number
  readonly elapsedMs: number
  /**
   * How many inputs got a 5xx (`serverErrors`), a 4xx not in the standard shape `{"error":
   * {"code", "message", "issues"?}}` (`offShape`), no answer within the timeout (`unanswered`);
   * and how many were let through with a 2xx (`accepted`: nothing wrong in itself).
   */
  readonly counts: Readonly<Record<FindingKind | 'accepted', number>>
  /** The first few inputs of each kind that went wrong. */
  readonly findings: Readonly<Record<FindingKind, readonly Finding[]>>
  readonly stalled: readonly StalledProjection[]
  readonly tables: readonly ProjectedTable[]
  /** Records a projection set aside (it could not apply them); they count as accounted for, not as projected. */
  readonly quarantined: number
  /** `/readyz` answered 200, every projection caught up, every acknowledged record projected once or quarantined. */
  readonly ready: boolean
  readonly ok: boolean
}

/**
 * An answer later than this counts as none. Generous: on a machine shared with other heavy work,
 * a warehouse read or an erasure (which waits for its projection) has taken over 30 s.
 */
const REQUEST_TIMEOUT_MS = 120_000
/** At most this many findings of a kind are kept for the report (all are counted). */
const KEPT_FINDINGS = 20
const PROGRESS_EVERY_MS = 10_000
/**
 * Requests in flight at once: password hashing runs on other threads, and reads of Metrica and The
 * Eye wait for their projection, so others go on meanwhile.
 */
const CONCURRENT_REQUESTS = 8

interface Sent {
  readonly status: number | null
  readonly body: string
}

async function send(app: FastifyInstance, request: FuzzRequest): Promise<Sent> {
  const options: InjectOptions = {
    method: request.method as InjectOptions['method'],
    url: request.url,
    headers: request.headers,
    ...(request.payload ? { payload: request.payload } : {}),
  }
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Sent>((resolve) => {
    timer = setTimeout(() => resolve({ status: null, body: 'no answer' }), REQUEST_TIMEOUT_MS)
  })
  try {
    return await Promise.race([
      app.inject(options).then(
        (response) => ({ status: response.statusCode, body: response.body }),
        // The request could not be made at all (a URL the client refuses): reported, not fatal.
        (error: Error) => ({ status: null, body: `not sent: ${error.message}` }),
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * How large a share of inputs a route takes. Routes that hash a password (sign-up, sign-in, user
 * registration) take a tenth: scrypt is slow on purpose, and at an equal share it would take most
 * of the run. Reads take a third: each valid one is a warehouse query, and their hostile inputs
 * are in their paths and queries, where a few hundred each cover them.
 */
const PASSWORD_ROUTE_WEIGHT = 0.1
const READ_ROUTE_WEIGHT = 0.3
const routeWeight = (route: FuzzRoute, world: FuzzWorld) => {
  if (/"password/.test(JSON.stringify(world.validBody(route) ?? route.sampleBody ?? {})))
    return PASSWORD_ROUTE_WEIGHT
  return route.method === 'GET' ? READ_ROUTE_WEIGHT : 1
}

/** Picks items with chances in proportion to their weights. */
function weightedPick<T>(items: readonly T[], weightOf: (item: T) => number): (random: Random) => T {
  const cumulative: number[] = []
  let total = 0
  for (const item of items) {
    total += weightOf(item)
    cumulative.push(total)
  }
  return (random) => {
    const at = random() * total
    return items[cumulative.findIndex((bound) => at < bound)] ?? items.at(-1)!
  }
}

/** How a valid request to a route is made, and with which credential it passes. */
interface RouteBase {
  readonly route: FuzzRoute
  authorization: string
}

function validRequest(world: FuzzWorld, base: RouteBase): FuzzRequest & { body: unknown } {
  const { route } = base
  const segments = Object.fromEntries(
    route.pathParams.map((name) => [
      name,
      encodeURIComponent(world.pathValue(route, name) ?? route.sampleParams[name] ?? 'x'),
    ]),
  )
  const query = new URLSearchParams(world.validQuery(route)).toString()
  const path = route.template.replace(/\{(\w+)\}/g, (_, name: string) => segments[name] ?? 'x')
  const body = route.sampleBody === null ? null : (world.validBody(route) ?? route.sampleBody)
  return {
    method: route.method,
    url: query ? `${path}?${query}` : path,
    headers: {
      ...(base.authorization ? { authorization: base.authorization } : {}),
      ...(body !== null ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== null ? { payload: jsonBytes(body) } : {}),
    body,
    mutation: 'none: a valid request',
  }
}

/** The first credential the route does not refuse as such (401, 403) with a valid request. */
async function discoverCredential(app: FastifyInstance, world: FuzzWorld, base: RouteBase) {
  const request = validRequest(world, base)
  for (const authorization of world.authorizations) {
    const { authorization: _, ...headers } = request.headers
    const answer = await send(app, {
      ...request,
      headers: authorization ? { ...headers, authorization } : headers,
    })
    if (answer.status !== 401 && answer.status !== 403) {
      base.authorization = authorization
      return
    }
  }
}

const withHeader = (request: FuzzRequest, name: string, value: string): FuzzRequest => {
  const { [name]: _, ...headers } = request.headers
  return { ...request, headers: value ? { ...headers, [name]: value } : headers }
}

/** One hostile input made from a valid request to the route. */
function hostileRequest(
  random: Random,
  route: FuzzRoute,
  valid: FuzzRequest & { body: unknown },
): FuzzRequest {
  const roll = random()
  const [path = '', query = ''] = valid.url.split('?')
  if (roll < 0.12) return valid
  if (roll < 0.55 && valid.body !== null) {
    const { body, mutation } = mutateBody(random, valid.body)
    return { ...valid, payload: body, mutation }
  }
  if (roll < 0.6) {
    const { body, mutation } = wholeBody(random, valid.payload ?? Buffer.from('{}'))
    return { ...withHeader(valid, 'content-type', 'application/json'), payload: body, mutation }
  }
  if (roll < 0.72 && route.pathParams.length > 0) {
    const name = pick(random, route.pathParams)
    const segment = pick(random, HOSTILE_SEGMENTS)
    const segments = path.split('/')
    const at = route.template.split('/').indexOf(`{${name}}`)
    segments[at] = segment
    const url = segments.join('/') + (query ? `?${query}` : '')
    return { ...valid, url, mutation: `path parameter ${name} = ${segment.slice(0, 60)}` }
  }
  if (roll < 0.88) {
    const names = [...route.queryParams.map((p) => p.name), 'from', 'to', 'limit', 'unknown']
    const name = pick(random, names)
    const value = pick(random, HOSTILE_QUERY_VALUES)
    const kind = random()
    const added =
      kind < 0.8
        ? `${name}=${value}`
        : kind < 0.9
          ? `${name}=1&${name}=${value}`
          : Array.from({ length: 300 }, (_, i) => `p${i}=${value}`).join('&')
    const url = `${path}?${[query, added].filter(Boolean).join('&')}`
    return { ...valid, url, mutation: `query ${added.slice(0, 80)}` }
  }
  if (roll < 0.95 || valid.payload === undefined) {
    const authorization = pick(random, hostileAuthorizations(valid.headers.authorization ?? 'Bearer x'))
    return {
      ...withHeader(valid, 'authorization', authorization),
      mutation: `authorization ${authorization.slice(0, 40)}`,
    }
  }
  const contentType = pick(random, HOSTILE_CONTENT_TYPES)
  return { ...withHeader(valid, 'content-type', contentType), mutation: `content-type ${contentType}` }
}

/**
 * Starts an embedded Hourglass in a temporary folder, gives it a world of accounts and sources,
 * drives every route its OpenAPI document lists with hostile inputs, then checks that nothing
 * got a 5xx, that every projection caught up and that every acknowledged record was projected.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-fuzz-'))
  // Projections gather a second of records per batch: fewer, larger inserts leave the cores to the inputs.
  const config = loadEmbeddedConfig({
    HOURGLASS_DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    HOURGLASS_PROJECTION_LINGER_MS: '1000',
  })
  const runtime = await startEmbedded(config, pino({ level: 'silent' }), { listen: false })
  try {
    const { app } = runtime
    const world = await createFuzzWorld(app)
    const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json<OpenApiDocument>()
    const bases: RouteBase[] = routesOf(document).map((route) => ({ route, authorization: '' }))
    for (const base of bases) await discoverCredential(app, world, base)

    const random = seededRandom(options.seed)
    const pickRoute = weightedPick(bases, (base) => routeWeight(base.route, world))
    const counts = { serverErrors: 0, offShape: 0, unanswered: 0, accepted: 0 }
    const findings: Record<FindingKind, Finding[]> = { serverErrors: [], offShape: [], unanswered: [] }
    const started = Date.now()
    const deadline = started + options.seconds * 1000
    let lastProgress = started
    let inputs = 0
    /** Sends inputs one after another until the count or the time is up; several run side by side. */
    const sender = async () => {
      while (inputs < options.count && Date.now() < deadline) {
        // Drawn in one synchronous step: the same seed makes the same inputs in the same order.
        const base = pickRoute(random)
        const request = hostileRequest(random, base.route, validRequest(world, base))
        inputs++
        const answer = await send(app, request)
        const found = (kind: FindingKind, text: string) => {
          counts[kind]++
          if (findings[kind].length < KEPT_FINDINGS)
            findings[kind].push({
              route: base.route.key,
              mutation: request.mutation,
              url: request.url.slice(0, 200),
              status: answer.status,
              answer: text.slice(0, 300),
            })
        }
        if (answer.status === null) found('unanswered', answer.body)
        else if (answer.status >= 500) found('serverErrors', answer.body)
        else if (answer.status >= 400) {
          const problem = errorShapeProblem(answer.body)
          if (problem) found('offShape', `${problem}: ${answer.body}`)
        } else counts.accepted++
        const now = Date.now()
        if (now - lastProgress >= PROGRESS_EVERY_MS) {
          lastProgress = now
          options.onProgress?.({
            inputs,
            count: options.count,
            elapsedMs: now - started,
            serverErrors: counts.serverErrors,
          })
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, sender))
    const elapsedMs = Date.now() - started
    const stalled = await stalledProjections(
      runtime.telemetry,
      runtime.worker,
      (options.settleSeconds ?? 120) * 1000,
    )
    const held = await createQuarantineStore(runtime.warehouse).list({ status: 'held' })
    const tables = await compareLogWithWarehouse(
      runtime,
      runtime.warehouse,
      new Set(held.map((record) => record.position)),
    )
    const readyz = await app.inject({ method: 'GET', url: '/readyz' })
    const ready =
      readyz.statusCode === 200 &&
      stalled.length === 0 &&
      tables.every((table) => table.missing.length === 0 && table.unexpected.length === 0)
    return {
      seed: options.seed,
      inputs,
      routes: bases.length,
      elapsedMs,
      counts,
      findings,
      stalled,
      tables,
      quarantined: held.length,
      ready,
      ok: ready && counts.serverErrors === 0 && counts.offShape === 0 && counts.unanswered === 0,
    }
  } finally {
    await runtime.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** `fuzz: 100000 inputs, 0 responses 5xx, 0 projections stalled, ready`, with the other counts. */
export function summaryLine(report: FuzzReport): string {
  const unprojected = report.tables.reduce(
    (sum, table) => sum + table.missing.length + table.unexpected.length,
    0,
  )
  return [
    `fuzz: ${report.inputs} inputs`,
    `${report.counts.serverErrors} responses 5xx`,
    `${report.counts.offShape} errors off the standard shape`,
    `${report.counts.unanswered} unanswered`,
    `${report.quarantined} records quarantined`,
    `${report.stalled.length} projections stalled`,
    `${unprojected} records unprojected`,
    report.ready ? 'ready' : 'not ready',
  ].join(', ')
}
