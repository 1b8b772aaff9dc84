import { CatalogedError, type ErrorCode } from './errorCatalogue.ts'

/** One problem with a request: where (a path into the body, query or params) and why. */
export interface FieldIssue {
  readonly path: string
  readonly message: string
}

/**
 * An error Hourglass answers a request with: a code of the catalogue (errorCatalogue.ts), which
 * gives its status and whether to retry, a message for people, and details (the field issues).
 */
export class HourglassError extends CatalogedError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: { readonly issues?: readonly FieldIssue[]; readonly [key: string]: unknown } = {},
  ) {
    super(code, message)
    this.name = 'HourglassError'
  }
}

export const errors = {
  invalidRequest: (issues: readonly FieldIssue[]) =>
    new HourglassError(
      'INVALID_REQUEST',
      issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; '),
      { issues },
    ),
  unauthenticated: (message = 'a valid bearer token is required') =>
    new HourglassError('UNAUTHENTICATED', message),
  forbidden: (message: string) => new HourglassError('FORBIDDEN', message),
  notFound: (what: string) => new HourglassError('NOT_FOUND', `${what} was not found`),
  conflict: (message: string) => new HourglassError('CONFLICT', message),
  unavailable: (message: string) => new HourglassError('UNAVAILABLE', message),
  /** Too many requests of one client, account or credential: answered with `Retry-After`. */
  rateLimited: (message: string, retryAfterSeconds: number) =>
    new HourglassError('RATE_LIMITED', message, { retryAfterSeconds }),
}

/** Turns a zod issue path into `events[3].attrs.price`. */
export const formatPath = (path: readonly PropertyKey[], prefix = ''): string =>
  path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    prefix,
  )

/** What is wrong with a key of an object, said of the object that holds it. */
export const keyIssueMessage = (key: string, message: string) => `key ${JSON.stringify(key)} ${message}`

/** A zod issue, as far as field issues need it: a record's key issue carries the key's own issues. */
interface SchemaIssue {
  readonly path: readonly PropertyKey[]
  readonly message: string
  readonly code?: string
  readonly issues?: readonly { readonly message: string }[]
}

export const toFieldIssues = (issues: readonly SchemaIssue[], prefix = ''): FieldIssue[] =>
  issues.map((issue) => {
    const keyIssue = issue.code === 'invalid_key' ? issue.issues?.[0] : undefined
    if (!keyIssue) return { path: formatPath(issue.path, prefix), message: issue.message }
    // A bad key is named by the object that holds it, with the key's own reason ("Invalid key" says little).
    const key = String(issue.path.at(-1))
    return {
      path: formatPath(issue.path.slice(0, -1), prefix),
      message: keyIssueMessage(key, keyIssue.message),
    }
  })
