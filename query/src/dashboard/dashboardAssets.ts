import { existsSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/** Where `npm run build -w @hourglass/query` puts the dashboard. */
export const DASHBOARD_BUILD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url))

export interface DashboardAssetsOptions {
  /** The built dashboard (default: the query package's build). */
  readonly root?: string
}

/** Everything the page loads comes from Hourglass itself; the API is on the same origin. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

/**
 * Serves the analyst's dashboard at `/`: one route per built file (no wildcard, so every API
 * route and the API's own 404 answers stay as they are). Hashed assets are cached for good,
 * the page itself is revalidated. Without a build, `/` says how to make one.
 */
export const dashboardAssets: FastifyPluginAsync<DashboardAssetsOptions> = async (fastify, options) => {
  const root = options.root ?? DASHBOARD_BUILD_DIR
  if (!existsSync(join(root, 'index.html'))) {
    fastify.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run `npm run build` (npm start and npm test build it).\n'),
    )
    return
  }
  await fastify.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    decorateReply: false,
    // The headers below say how long each file keeps.
    cacheControl: false,
    setHeaders(reply, path) {
      reply.header('x-content-type-options', 'nosniff')
      if (relative(root, path).startsWith(`assets${sep}`)) {
        reply.header('cache-control', 'public, max-age=31536000, immutable')
      } else {
        reply.header('cache-control', 'no-cache')
        reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
        reply.header('referrer-policy', 'no-referrer')
      }
    },
  })
}
