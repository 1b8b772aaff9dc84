import type { FastifyInstance, HTTPMethods } from 'fastify'
import { expect } from 'vitest'

export interface MalformedRequests {
  readonly routes: readonly (readonly [HTTPMethods, string])[]
  /** Query strings added to every route (default: none). */
  readonly queries?: readonly string[]
  /** Query strings for routes that take a body, when they differ from `queries`. */
  readonly writeQueries?: readonly string[]
  readonly authorizations: readonly (string | undefined)[]
  /** Raw JSON texts, sent as the body of routes that take one. */
  readonly payloads: readonly string[]
  /** Methods sent without a body (default: GET). */
  readonly bodyless?: readonly HTTPMethods[]
}

/**
 * Sends every combination of route, query, authorization and body (a bounded number) and
 * names each request answered with a 5xx: nothing a client sends may cause one.
 */
export async function sendMalformedRequests(
  app: FastifyInstance,
  barrage: MalformedRequests,
): Promise<{ requests: number; serverErrors: string[] }> {
  const bodyless = barrage.bodyless ?? ['GET']
  const serverErrors: string[] = []
  let requests = 0
  for (const [method, path] of barrage.routes) {
    const takesBody = !bodyless.includes(method)
    const queries = (takesBody ? barrage.writeQueries : undefined) ?? barrage.queries ?? ['']
    for (const query of queries) {
      for (const authorization of barrage.authorizations) {
        for (const payload of takesBody ? barrage.payloads : [undefined]) {
          const response = await app.inject({
            method,
            url: path + query,
            headers: {
              ...(authorization ? { authorization } : {}),
              ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            },
            ...(payload !== undefined ? { payload } : {}),
          })
          requests++
          if (response.statusCode >= 500) {
            serverErrors.push(`${method} ${path}${query} ${payload ?? ''} → ${response.statusCode}`)
          }
        }
      }
    }
  }
  return { requests, serverErrors }
}

/** Sends the barrage and expects no 5xx among more than `atLeast` requests (so it did run). */
export async function expectNoServerErrors(
  app: FastifyInstance,
  barrage: MalformedRequests,
  atLeast: number,
): Promise<void> {
  const { requests, serverErrors } = await sendMalformedRequests(app, barrage)
  expect(serverErrors).toEqual([])
  expect(requests).toBeGreaterThan(atLeast)
}
