import type { HttpTimeouts } from '@hourglass/server'
import { z } from 'zod'
import type { PasswordHasherOptions } from '../accounts/passwords.ts'
import type { RateLimits } from '../admission/admissionControl.ts'

/**
 * The variables of admission control: how slow a request may be (every HTTP server), and how many
 * passwords are hashed at once and the rate limits (every deployable that serves the API:
 * embedded, and distributed mode's ingest and query; see ingest's admissionControl.ts).
 */

const count = (min: number, max: number, fallback: number, meaning: string) =>
  z.coerce.number().int().min(min).max(max).default(fallback).describe(meaning)

/** How long a client may take to send a request, by the server's clock. */
export const httpTimeoutVariables = {
  /** The whole request, headers and body: a request still arriving after it is answered 408 and closed. */
  HOURGLASS_REQUEST_TIMEOUT_MS: count(
    1000,
    600_000,
    60_000,
    'a request (headers and body) still arriving after this many ms is answered 408 and closed',
  ),
  /** The headers of a request (at most the request timeout). */
  HOURGLASS_HEADERS_TIMEOUT_MS: count(
    1000,
    600_000,
    10_000,
    'the same for the headers alone, in ms (at most the request timeout)',
  ),
  /** A connection on which nothing moves either way this long is closed; 0: never. */
  HOURGLASS_CONNECTION_TIMEOUT_MS: count(
    0,
    3_600_000,
    120_000,
    'a connection on which nothing moves this many ms is closed; 0: never',
  ),
}

export const admissionVariables = {
  /** Threads that hash passwords (scrypt, 32 MiB each): at most this many cores go to sign-ins. */
  HOURGLASS_PASSWORD_THREADS: count(
    1,
    64,
    1,
    'threads that hash passwords: the most cores sign-ins can take',
  ),
  /** Passwords that may wait for a thread; beyond them a sign-in is answered 429. */
  HOURGLASS_PASSWORD_QUEUE: count(
    0,
    10_000,
    64,
    'passwords that may wait for a thread; past them a sign-in is answered 429',
  ),
  HOURGLASS_RATE_LIMIT_WINDOW_SECONDS: count(
    1,
    86_400,
    60,
    'the window, in seconds, every rate limit counts in',
  ),
  HOURGLASS_RATE_LIMIT_SIGN_IN_PER_ADDRESS: count(
    1,
    1_000_000,
    60,
    'sign-in, sign-up and token requests per client address in a window',
  ),
  HOURGLASS_RATE_LIMIT_FAILURES_PER_ACCOUNT: count(
    1,
    1_000_000,
    10,
    'failed sign-ins of an account before it waits a window, then two, four…',
  ),
  HOURGLASS_RATE_LIMIT_CREATIONS_PER_ACCOUNT: count(
    1,
    10_000_000,
    600,
    'sources, sessions, tokens and device users an account (or source) creates in a window',
  ),
  HOURGLASS_RATE_LIMIT_WRITES_PER_TOKEN: count(
    1,
    100_000_000,
    100_000,
    'write requests per credential (API token, access or account token) in a window',
  ),
  HOURGLASS_SESSIONS_PER_SOURCE: count(
    1,
    100_000_000,
    1_000_000,
    'live sessions a source may hold; past them a new session is answered 429 QUOTA_EXCEEDED',
  ),
  HOURGLASS_TOKENS_PER_SOURCE: count(
    1,
    10_000,
    100,
    'live API tokens a source may hold beyond its first; past them one more is answered 429 QUOTA_EXCEEDED',
  ),
  HOURGLASS_SESSION_LIFETIME_SECONDS: count(
    1,
    30 * 86_400,
    86_400,
    'seconds a session lives after it starts; then its events are refused and it is forgotten',
  ),
  HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS: count(
    1,
    365 * 86_400,
    30 * 86_400,
    "seconds an API token issued beyond a source's first, or a The Eye token, lives; then it is answered 401",
  ),
}

type HttpTimeoutEnv = { [K in keyof typeof httpTimeoutVariables]: number }
type AdmissionEnv = { [K in keyof typeof admissionVariables]: number }

/** What is wrong with the timeouts taken together: the headers cannot take longer than the whole request. */
export const timeoutProblems = (env: HttpTimeoutEnv): string[] =>
  env.HOURGLASS_HEADERS_TIMEOUT_MS > env.HOURGLASS_REQUEST_TIMEOUT_MS
    ? ['HOURGLASS_HEADERS_TIMEOUT_MS: must not be longer than HOURGLASS_REQUEST_TIMEOUT_MS']
    : []

/**
 * How much one source may hold, and how long: each live session and token is kept in every
 * process's memory, and forgotten once it has expired.
 */
export interface SourceQuotas {
  readonly sessions: number
  readonly tokens: number
  readonly sessionLifetimeMs: number
  /** Of API tokens issued beyond a source's first, and of The Eye tokens. */
  readonly tokenLifetimeMs: number
}

export interface Admission {
  readonly passwords: PasswordHasherOptions
  readonly rateLimits: RateLimits
  readonly quotas: SourceQuotas
}

export const sourceQuotasOf = (
  env: Pick<
    AdmissionEnv,
    | 'HOURGLASS_SESSIONS_PER_SOURCE'
    | 'HOURGLASS_TOKENS_PER_SOURCE'
    | 'HOURGLASS_SESSION_LIFETIME_SECONDS'
    | 'HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS'
  >,
): SourceQuotas =>
  Object.freeze({
    sessions: env.HOURGLASS_SESSIONS_PER_SOURCE,
    tokens: env.HOURGLASS_TOKENS_PER_SOURCE,
    sessionLifetimeMs: env.HOURGLASS_SESSION_LIFETIME_SECONDS * 1000,
    tokenLifetimeMs: env.HOURGLASS_ISSUED_TOKEN_LIFETIME_SECONDS * 1000,
  })

export const httpTimeoutsOf = (env: HttpTimeoutEnv): HttpTimeouts =>
  Object.freeze({
    requestMs: env.HOURGLASS_REQUEST_TIMEOUT_MS,
    headersMs: env.HOURGLASS_HEADERS_TIMEOUT_MS,
    connectionMs: env.HOURGLASS_CONNECTION_TIMEOUT_MS,
  })

export const admissionOf = (env: AdmissionEnv): Admission =>
  Object.freeze({
    passwords: Object.freeze({
      threads: env.HOURGLASS_PASSWORD_THREADS,
      queue: env.HOURGLASS_PASSWORD_QUEUE,
    }),
    rateLimits: Object.freeze({
      windowSeconds: env.HOURGLASS_RATE_LIMIT_WINDOW_SECONDS,
      credentialsPerAddress: env.HOURGLASS_RATE_LIMIT_SIGN_IN_PER_ADDRESS,
      failuresPerAccount: env.HOURGLASS_RATE_LIMIT_FAILURES_PER_ACCOUNT,
      creationsPerAccount: env.HOURGLASS_RATE_LIMIT_CREATIONS_PER_ACCOUNT,
      writesPerCredential: env.HOURGLASS_RATE_LIMIT_WRITES_PER_TOKEN,
    }),
    quotas: sourceQuotasOf(env),
  })
