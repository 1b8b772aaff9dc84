/** One problem with a request: where (a path into the body, query or params) and why. */
export interface FieldIssue {
  readonly path: string
  readonly message: string
}

/**
 * Every error Hourglass answers with. The `code` is the public contract; the message is
 * for people and may change.
 */
export class HourglassError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    readonly details: { readonly issues?: readonly FieldIssue[]; readonly [key: string]: unknown } = {},
    readonly retryable = false,
  ) {
    super(message)
    this.name = 'HourglassError'
  }
}

export const errors = {
  invalidRequest: (issues: readonly FieldIssue[]) =>
    new HourglassError(
      'INVALID_REQUEST',
      400,
      issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; '),
      { issues },
    ),
  unauthenticated: (message = 'a valid bearer token is required') =>
    new HourglassError('UNAUTHENTICATED', 401, message),
  forbidden: (message: string) => new HourglassError('FORBIDDEN', 403, message),
  notFound: (what: string) => new HourglassError('NOT_FOUND', 404, `${what} was not found`),
  conflict: (message: string) => new HourglassError('CONFLICT', 409, message),
  unavailable: (message: string) => new HourglassError('UNAVAILABLE', 503, message, {}, true),
  /** Too many requests of one client, account or credential: answered with `Retry-After`. */
  rateLimited: (message: string, retryAfterSeconds: number) =>
    new HourglassError('RATE_LIMITED', 429, message, { retryAfterSeconds }, true),
}

/** Turns a zod issue path into `events[3].attrs.price`. */
export const formatPath = (path: readonly PropertyKey[], prefix = ''): string =>
  path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    prefix,
  )

export const toFieldIssues = (
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix = '',
): FieldIssue[] => issues.map((issue) => ({ path: formatPath(issue.path, prefix), message: issue.message }))
