import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ClickHouseClient, createClient } from '@clickhouse/client'
import type { Logger } from 'pino'

/**
 * A stand-in for a ClickHouse server, for tests and small single-machine deployments: one
 * process owns a chDB data folder (chDB allows one per process) and serves the part of
 * ClickHouse's HTTP interface that @clickhouse/client uses, so that ingest, projection workers
 * and query reach it through CLICKHOUSE_URL exactly as they reach a real server:
 *
 * - `POST /` with the SQL as the body, or with `query=` in the URL and the body as data
 *   (`INSERT … FORMAT JSONEachRow`); `GET /?query=`; `GET /ping`;
 * - `param_<name>` URL parameters bound as query parameters (`{name:Type}` in the SQL);
 * - any other URL parameter as a setting of that request (`insert_deduplication_token`, …);
 * - errors as HTTP 500 with ClickHouse's `Code: N. DB::Exception: …` text.
 *
 * It is not ClickHouse: no users or passwords (it listens on loopback by default), no
 * compression, no sessions, no streaming (results are materialised), and one statement runs
 * at a time, because chDB applies settings to its one session and a setting of one request
 * must not leak into another's.
 */

const NOT_SETTINGS = new Set(['query', 'query_id', 'database', 'session_id', 'role', 'user', 'password'])

export interface WarehouseStandInOptions {
  /** The chDB data folder this process owns. */
  readonly path: string
  readonly host?: string
  readonly port?: number
  /** Database Hourglass's tables live in (created at start). */
  readonly database: string
  readonly logger: Logger
}

export interface WarehouseStandIn {
  readonly url: string
  close(): Promise<void>
}

const readBody = async (request: IncomingMessage) => {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** A string as a ClickHouse SQL literal: backslashes and quotes escaped, nothing interpreted. */
const sqlLiteral = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`

/**
 * Query parameters as ClickHouse's HTTP interface takes them: each `param_x` value is text in
 * the Escaped format, parsed by the engine as the type its `{x:Type}` placeholder names. chDB's
 * own binder would escape that text a second time, so the values are set as `param_x` settings
 * of the statement instead, which the engine parses exactly as a server parses the URL's.
 */
const bindParameters = (params: Record<string, string>, sql: string) => {
  const names = Object.keys(params)
  if (names.length === 0) return sql
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid query parameter name "${name}"`)
  }
  return `${names.map((name) => `SET param_${name} = ${sqlLiteral(params[name]!)}`).join('; ')}; ${sql}`
}

/** The named parts of a multipart/form-data body, as @clickhouse/client builds it. */
const multipartParts = (body: string, boundary: string) => {
  const parts: Record<string, string> = {}
  for (const chunk of body.split(`--${boundary}`)) {
    const match =
      /^\r\nContent-Disposition: form-data; name="([^"]+)"\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*)\r\n$/.exec(chunk)
    if (match) parts[match[1]!] = match[2]!
  }
  return parts
}

export async function startWarehouseStandIn(options: WarehouseStandInOptions): Promise<WarehouseStandIn> {
  // chDB in this process, reached with the ordinary client; the database Hourglass names is made here.
  const { createChdbConnection } = await import('chdb/connection')
  const warehouse: ClickHouseClient = createClient({
    connection: createChdbConnection({ path: options.path }) as unknown as NonNullable<
      NonNullable<Parameters<typeof createClient>[0]>['connection']
    >,
  })
  await warehouse.command({ query: `CREATE DATABASE IF NOT EXISTS ${options.database}` })
  let queue: Promise<unknown> = Promise.resolve()
  /** One statement at a time (see above). */
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work)
    queue = run.catch(() => undefined)
    return run
  }

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://warehouse')
    if (url.pathname === '/ping') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n')
      return
    }
    if (url.pathname !== '/') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n')
      return
    }
    let body = request.method === 'POST' ? await readBody(request) : ''
    let inUrl = url.searchParams.get('query')
    const params: Record<string, string> = {}
    const boundary = /^multipart\/form-data;\s*boundary=(.+)$/i.exec(
      request.headers['content-type'] ?? '',
    )?.[1]
    if (boundary) {
      // Large query parameters come as parts of the body, with the query as the part `query`.
      const parts = multipartParts(body, boundary)
      inUrl = null
      body = parts.query ?? ''
      for (const [name, value] of Object.entries(parts)) {
        if (name.startsWith('param_')) params[name.slice('param_'.length)] = value
      }
    }
    const settings: Record<string, string> = { insert_deduplication_token: '' }
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) params[key.slice('param_'.length)] = value
      else if (!NOT_SETTINGS.has(key)) settings[key] = value
    }
    const queryId = url.searchParams.get('query_id') ?? ''
    if (inUrl !== null && body.trim() === '' && /^\s*INSERT\b/i.test(inUrl)) {
      response.writeHead(200, { 'x-clickhouse-query-id': queryId }).end()
      return
    }
    const sql = inUrl === null ? body : body === '' ? inUrl : `${inUrl}\n${body}`
    try {
      const result = await serially(async () => {
        const exec = await warehouse.exec({
          query: bindParameters(params, sql),
          clickhouse_settings: settings,
        })
        const chunks: Buffer[] = []
        for await (const chunk of exec.stream) chunks.push(Buffer.from(chunk as Buffer))
        return { bytes: Buffer.concat(chunks), summary: exec.summary }
      })
      response
        .writeHead(200, {
          'content-type': 'text/plain; charset=UTF-8',
          'x-clickhouse-query-id': queryId,
          ...(result.summary ? { 'x-clickhouse-summary': JSON.stringify(result.summary) } : {}),
        })
        .end(result.bytes)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      const { code, type } = error as { code?: unknown; type?: unknown }
      options.logger.debug({ err: error, sql: sql.slice(0, 500) }, 'warehouse statement failed')
      response
        .writeHead(500, {
          'content-type': 'text/plain; charset=UTF-8',
          ...(typeof code === 'string' || typeof code === 'number'
            ? { 'x-clickhouse-exception-code': String(code) }
            : {}),
        })
        .end(
          typeof code === 'string' && /^\d+$/.test(code)
            ? `Code: ${code}. DB::Exception: ${message}${type ? ` (${type})` : ''}`
            : `Code: 1000. DB::Exception: ${message}`,
        )
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error({ err: error }, 'warehouse request failed')
      if (!response.headersSent) response.writeHead(500).end(`Code: 1000. DB::Exception: ${String(error)}`)
    })
  })
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 8123, options.host ?? '127.0.0.1', resolve),
  )
  const address = server.address() as AddressInfo
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await queue
      await warehouse.close()
    },
  }
}
