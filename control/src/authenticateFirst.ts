import type { FastifyRequest } from 'fastify'

/** A route's authentication, run once per request however often it is asked. */
export interface Authentication<T> {
  /** Who the request speaks for (or the 401 / 403 that says it speaks for nobody). */
  (request: FastifyRequest): Promise<T>
  /**
   * The route's `onRequest` hook: authenticates before the body is read or anything is
   * validated, so a caller without a valid credential gets 401 whatever it sends, and learns
   * nothing of the route's schemas from 400s.
   */
  readonly onRequest: (request: FastifyRequest) => Promise<void>
}

/**
 * Makes an authentication run first and once: a route names `.onRequest` among its hooks, and
 * its handler calls the authentication again to get the same answer without doing the work twice
 * (a device user's password is checked once, a token is verified once).
 */
export function authenticateFirst<T>(
  authenticate: (request: FastifyRequest) => Promise<T>,
): Authentication<T> {
  const answers = new WeakMap<FastifyRequest, Promise<T>>()
  const once = (request: FastifyRequest) => {
    let answer = answers.get(request)
    if (!answer) {
      answer = authenticate(request)
      answers.set(request, answer)
    }
    return answer
  }
  return Object.assign(once, {
    onRequest: async (request: FastifyRequest) => {
      await once(request)
    },
  })
}
