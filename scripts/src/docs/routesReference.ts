import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadEmbeddedConfig } from '@hourglass/control'
import { pino } from 'pino'
import { startEmbedded } from '../embeddedRuntime.ts'
import { generatedNotice, markdownTable, page } from './markdown.ts'

/** docs/reference/routes.md from the OpenAPI document the running server serves at /docs/json. */

interface Operation {
  readonly summary?: string
  readonly description?: string
  readonly tags?: readonly string[]
}

export interface OpenApiDocument {
  readonly paths: Record<string, Record<string, Operation>>
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

/** The OpenAPI document of every route, from an embedded Hourglass in a temporary folder (not listening). */
export async function loadOpenApiDocument(): Promise<OpenApiDocument> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-docs-'))
  try {
    const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
    const runtime = await startEmbedded(config, pino({ level: 'silent' }), { listen: false })
    try {
      return (await runtime.app.inject({ method: 'GET', url: '/docs/json' })).json<OpenApiDocument>()
    } finally {
      await runtime.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

interface Route {
  readonly method: string
  readonly path: string
  readonly operation: Operation
}

const routesOf = (document: OpenApiDocument): Route[] =>
  Object.entries(document.paths)
    .flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).map((method) => ({
        method: method.toUpperCase(),
        path,
        operation: item[method] as Operation,
      })),
    )
    .sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(lower(a)) - METHODS.indexOf(lower(b)))

const lower = (route: Route) => route.method.toLowerCase() as (typeof METHODS)[number]

/** The API a route belongs to: the native API's first path segment after /v1, or the compat API's name. */
export const groupOf = (path: string) => {
  const compat = /^\/compat\/([^/]+)/.exec(path)
  if (compat) return `/compat/${compat[1]}`
  const native = /^\/v1\/([^/]+)/.exec(path)
  return native ? `/v1/${native[1]}` : 'other'
}

const what = (operation: Operation) => operation.summary ?? operation.description?.split('\n')[0] ?? ''

const groupSection = (group: string, routes: readonly Route[]) =>
  [
    `## \`${group}\``,
    markdownTable(
      ['method', 'path', 'what'],
      routes.map((route) => [route.method, `\`${route.path}\``, what(route.operation)]),
    ),
  ].join('\n\n')

export function renderRoutesReference(document: OpenApiDocument): string {
  const routes = routesOf(document)
  const groups = new Map<string, Route[]>()
  for (const route of routes)
    groups.set(groupOf(route.path), [...(groups.get(groupOf(route.path)) ?? []), route])
  const ordered = [...groups.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  return page(
    generatedNotice('the OpenAPI document (`GET /docs/json` of a running Hourglass)'),
    '# Routes',
    `Every route of the API (${routes.length}), grouped by path. A running Hourglass serves the full ` +
      'document with request and answer schemas at `/docs` (and `/docs/json`). Guides: ' +
      '[the native API](../api.md), [the seed-compatible APIs](../compat/README.md); ' +
      'which service serves which route in distributed mode: [distributed](../distributed.md).',
    ...ordered.map((group) => groupSection(group, groups.get(group) ?? [])),
  )
}

const rank = (group: string) => (group.startsWith('/v1/') ? 0 : group.startsWith('/compat/') ? 1 : 2)
