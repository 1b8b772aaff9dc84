import { createHash } from 'node:crypto'
import rateLimit, { normalizeIP } from '@fastify/rate-limit'
import { errors } from '@hourglass/schemas'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { decodeJwt } from 'jose'
import { credentialFrom, parseApiToken } from '../accounts/apiTokens.ts'
import { createFailureBackoff } from './failureBackoff.ts'

/**
 * How many requests admission control lets through, per window. The counts are kept in the
 * memory of each process: Hourglass's deployments have no shared store (such as Redis) to keep
 * them in, so in distributed mode every ingest and query process applies these limits on its own,
 * and N processes behind a load balancer admit up to N times these rates.
 */
export interface RateLimits {
  readonly windowSeconds: number
  /** Requests to sign-in, sign-up and token routes from one client address. */
  readonly credentialsPerAddress: number
  /** Failed sign-ins (or sign-ups, token exchanges) of one account before it must wait; each further failure doubles the wait. */
  readonly failuresPerAccount: number
  /** Sources, sessions, tokens and device users one account (or source) creates. */
  readonly creationsPerAccount: number
  /** Write requests (POST, PUT, PATCH, DELETE) sent with one credential (API token, access or account token). */
  readonly writesPerCredential: number
}

/** Which limits a route is under, named in its `config.admission`. A write route that names none is a write. */
export type RouteAdmission =
  | {
      readonly kind: 'credentials'
      /** The account the request speaks for (a namespaced key), whose failures are counted; none when it names none. */
      readonly account: (request: FastifyRequest) => string | undefined
    }
  | { readonly kind: 'creation' }

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The limits of admission control this route is under (see admissionControl.ts). */
    admission?: RouteAdmission
  }
}

/** A sign-in, sign-up or token route: limited per client address, and its failures per account. */
export const credentialsRoute = (account: Extract<RouteAdmission, { kind: 'credentials' }>['account']) => ({
  admission: { kind: 'credentials', account } satisfies RouteAdmission,
})

/** A route that creates sources, sessions, tokens or users: limited per account. */
export const creationRoute = { admission: { kind: 'creation' } satisfies RouteAdmission }

/** The account named by a string field of the body (an e-mail address, a username), in a namespace. */
export const accountInBody =
  (namespace: string, field: string) =>
  (request: FastifyRequest): string | undefined => {
    const value = (request.body as Record<string, unknown> | null | undefined)?.[field]
    return typeof value === 'string' ? `${namespace}:${value.trim().toLowerCase()}` : undefined
  }

/** The source whose API key a field of the body holds. */
export const sourceOfKeyInBody =
  (field: string) =>
  (request: FastifyRequest): string | undefined => {
    const value = (request.body as Record<string, unknown> | null | undefined)?.[field]
    const parsed = typeof value === 'string' ? parseApiToken(value) : null
    return parsed ? `source:${parsed.sourceId}` : undefined
  }

/**
 * Who a request speaks for, by its credential: a source by its API token, an account (or member,
 * store) by its token's subject, otherwise the client's address. Creation routes authenticate in
 * `onRequest`, so by the time this is read (`preHandler`) the token has been verified.
 */
export const principalOf = (request: FastifyRequest): string => {
  const { authorization } = request.headers
  const credential = credentialFrom(authorization) ?? credentialFrom(authorization, 'Token')
  const source = credential ? parseApiToken(credential) : null
  if (source) return `source:${source.sourceId}`
  if (credential) {
    try {
      const { sub } = decodeJwt(credential)
      if (sub) return `subject:${sub}`
    } catch {
      // Not a token at all: the route's authentication has answered 401 already.
    }
  }
  return `address:${normalizeIP(request.ip)}`
}

const credentialKey = (request: FastifyRequest) => {
  const { authorization } = request.headers
  return authorization
    ? `credential:${createHash('sha256').update(authorization).digest('base64url')}`
    : `address:${normalizeIP(request.ip)}`
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/**
 * Accounts whose failures are remembered at most; the rate limiter's own store keeps its 5,000
 * most recent keys per limit. Memory stays bounded however many clients there are.
 */
const FAILING_ACCOUNTS_KEPT = 10_000
/** The longest wait after failures; also how long an account that failed past its free failures is remembered. */
const MAX_FAILURE_WAIT_MS = 24 * 3600_000

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>
const addHook = (
  route: RouteOptions,
  name: 'onRequest' | 'preHandler' | 'onResponse',
  hook: Hook,
  first = false,
) => {
  const existing = route[name] as Hook | Hook[] | undefined
  const hooks = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]
  ;(route as unknown as Record<string, Hook[]>)[name] = first ? [hook, ...hooks] : [...hooks, hook]
}

/**
 * Rate limits on every route registered after it, answered with 429, `Retry-After` and the code
 * `RATE_LIMITED`: per client address and per account on sign-in, sign-up and token routes (failed
 * attempts of an account wait longer and longer, see failureBackoff.ts); per account on routes
 * that create sources, sessions and tokens; per credential on every other write. Register it on
 * the root instance, before the routes.
 */
export async function registerAdmissionControl(app: FastifyInstance, limits: RateLimits) {
  await app.register(rateLimit, { global: false })
  const windowMs = limits.windowSeconds * 1000
  const limiter = (max: number, what: string, keyGenerator: (request: FastifyRequest) => string): Hook => {
    const check = app.createRateLimit({ max, timeWindow: windowMs, keyGenerator })
    return async (request) => {
      const outcome = await check(request)
      if (!outcome.isAllowed && outcome.isExceeded) {
        throw errors.rateLimited(`${what}; retry in ${outcome.ttlInSeconds} s`, outcome.ttlInSeconds)
      }
    }
  }
  const perAddress = limiter(
    limits.credentialsPerAddress,
    'too many sign-in, sign-up and token requests from this address',
    (request) => normalizeIP(request.ip),
  )
  const perAccount = limiter(
    limits.creationsPerAccount,
    'this account creates sources, sessions and tokens too fast',
    principalOf,
  )
  const perCredential = limiter(
    limits.writesPerCredential,
    'too many writes with this credential',
    credentialKey,
  )

  const failures = createFailureBackoff({
    free: limits.failuresPerAccount,
    windowMs,
    maxKeys: FAILING_ACCOUNTS_KEPT,
    maxWaitMs: MAX_FAILURE_WAIT_MS,
  })
  const accountOfRequest = new WeakMap<FastifyRequest, string>()
  /**
   * An attempt counts as a failure from the moment it is let through until it succeeds: checks
   * under way count, so concurrent guesses cannot slip past the free failures while the first
   * passwords are still being hashed.
   */
  const failureCheck =
    (account: (request: FastifyRequest) => string | undefined): Hook =>
    async (request) => {
      const key = account(request)
      if (key === undefined) return
      const waitMs = failures.waitOf(key)
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000)
        throw errors.rateLimited(`too many failed attempts for this account; retry in ${seconds} s`, seconds)
      }
      failures.fail(key)
      accountOfRequest.set(request, key)
    }
  const successForgives: Hook = async (request, reply) => {
    const key = accountOfRequest.get(request)
    if (key !== undefined && reply.statusCode < 300) failures.succeed(key)
  }

  app.addHook('onRoute', (route) => {
    const admission = route.config?.admission
    if (admission?.kind === 'credentials') {
      addHook(route, 'onRequest', perAddress, true)
      // After validation: the account is read from a body known to be well-formed.
      addHook(route, 'preHandler', failureCheck(admission.account))
      addHook(route, 'onResponse', successForgives)
      return
    }
    const methods = [route.method].flat()
    if (methods.some((method) => WRITE_METHODS.has(method))) addHook(route, 'onRequest', perCredential, true)
    if (admission?.kind === 'creation') addHook(route, 'preHandler', perAccount)
  })
}
