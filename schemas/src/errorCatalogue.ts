/**
 * Every error code Hourglass answers with or raises, with the HTTP status it is answered with and
 * whether trying again later may succeed. The code is the public contract; messages are for
 * people and may change. docs/reference/errors.md is generated from this list.
 */
export const errorCatalogue = {
  // Requests a client must change.
  INVALID_REQUEST: {
    status: 400,
    retryable: false,
    means: 'a field is missing or wrong; `issues` names each and why',
  },
  BAD_REQUEST: {
    status: 400,
    retryable: false,
    means: 'the request cannot be understood as HTTP the API takes',
  },
  MALFORMED_JSON: { status: 400, retryable: false, means: 'the body is not valid JSON' },
  MALFORMED_UTF8: { status: 400, retryable: false, means: 'the body (or a field of it) is not valid UTF-8' },
  MALFORMED_PATH: { status: 400, retryable: false, means: 'the path does not decode (a bad percent-escape)' },
  MALFORMED_REQUEST: {
    status: 400,
    retryable: false,
    means: 'the request line or headers are not valid HTTP',
  },
  EMPTY_BODY: { status: 400, retryable: false, means: 'the route needs a JSON body and got none' },
  NESTING_TOO_DEEP: {
    status: 400,
    retryable: false,
    means: 'the JSON body nests deeper than the API allows',
  },
  FORBIDDEN_KEY: {
    status: 400,
    retryable: false,
    means: 'the JSON body holds a key the API refuses (`__proto__`, …)',
  },
  INVALID_CONTENT_LENGTH: { status: 400, retryable: false, means: 'Content-Length does not match the body' },
  INVALID_CREDENTIALS: {
    status: 400,
    retryable: false,
    means: "The Eye's sign-in: unknown user or wrong password",
  },
  APP_EXISTS: { status: 400, retryable: false, means: 'Metrica: the user already has an app of this name' },
  EVENTS_REJECTED: {
    status: 400,
    retryable: false,
    means: "some events do not match their source's tracking plan",
  },
  EVENT_REJECTED: {
    status: 400,
    retryable: false,
    means: "Metrica: the message does not match the app's event",
  },
  READINGS_REJECTED: {
    status: 400,
    retryable: false,
    means: 'some readings cannot be recorded (see `issues`)',
  },
  UNAUTHENTICATED: {
    status: 401,
    retryable: false,
    means: 'no credential, or one that is wrong, expired or revoked',
  },
  FORBIDDEN: { status: 403, retryable: false, means: 'the credential is valid but may not do this' },
  NOT_FOUND: {
    status: 404,
    retryable: false,
    means: "no such route, or no such thing the caller's tenant holds",
  },
  REQUEST_TIMEOUT: { status: 408, retryable: true, means: 'the request did not arrive whole in time' },
  CONFLICT: { status: 409, retryable: false, means: 'the change contradicts what exists (a taken name, …)' },
  TRANSACTION_ID_TAKEN: { status: 409, retryable: false, means: 'a receipt with this transaction id exists' },
  NOT_A_DEVICE_FLEET: { status: 409, retryable: false, means: 'the source is not of kind `device`' },
  DEVICE_OWNED_BY_ANOTHER_USER: {
    status: 409,
    retryable: false,
    means: 'the device is bound to someone else',
  },
  BINDING_OUT_OF_ORDER: {
    status: 409,
    retryable: false,
    means: "a reading older than the device's latest binding",
  },
  DIRECTORY_BUSY: {
    status: 409,
    retryable: true,
    means: "other processes keep changing this store's people: retry",
  },
  BODY_TOO_LARGE: { status: 413, retryable: false, means: 'the body is larger than the route takes' },
  PATH_TOO_LONG: { status: 414, retryable: false, means: 'a path parameter is longer than the API takes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, means: 'the body is not `application/json`' },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, means: 'the request headers are too large' },
  RATE_LIMITED: {
    status: 429,
    retryable: true,
    means: 'too many requests of this client, account or credential; see Retry-After',
  },
  QUOTA_EXCEEDED: {
    status: 429,
    retryable: false,
    means: 'the source holds as many sessions or API tokens as it may',
  },
  PASSWORD_CHECKS_BUSY: {
    status: 429,
    retryable: true,
    means: 'too many password checks are waiting; retry shortly',
  },
  // Hourglass cannot serve it now.
  INTERNAL: { status: 500, retryable: false, means: 'a fault of Hourglass; it has been logged' },
  UNAVAILABLE: { status: 503, retryable: true, means: 'a store Hourglass needs does not answer; retry' },
  LOG_UNAVAILABLE: {
    status: 503,
    retryable: true,
    means: 'the log (Kafka, PostgreSQL) does not answer; retry',
  },
  LOG_CLOSED: { status: 503, retryable: true, means: 'the process is shutting down' },
  WAREHOUSE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    means: 'the warehouse does not answer or cannot work now',
  },
  // Raised inside Hourglass; seen in logs, status and quarantine, not in answers.
  WAREHOUSE_REJECTED: {
    status: 500,
    retryable: false,
    means: 'the warehouse refused a statement for what it holds',
  },
  INVALID_LOG_RECORD: { status: 500, retryable: false, means: 'a log record does not match its schema' },
  LOG_TRUNCATED: {
    status: 500,
    retryable: false,
    means: 'the log no longer holds its first records: no rebuild',
  },
  REPLAY_SWITCHING: {
    status: 409,
    retryable: false,
    means: 'a rebuilt generation is being switched in: too late to cancel it',
  },
  UNVERIFIABLE_TABLE: {
    status: 500,
    retryable: false,
    means: 'a projection writes rows without their log position',
  },
  UNREPAIRABLE_VIEW: {
    status: 500,
    retryable: false,
    means: "a materialized view's query cannot be recomputed per batch",
  },
  POSTGRES_REFUSED: {
    status: 500,
    retryable: false,
    means: 'PostgreSQL refused a statement (SQLSTATE in the message)',
  },
  PERSON_KEY_EXISTS: { status: 500, retryable: false, means: 'a person key was created twice' },
  PERSON_KEY_MISMATCH: {
    status: 500,
    retryable: false,
    means: 'the keys in PostgreSQL were made with another master key',
  },
  INVALID_DATABASE_NAME: {
    status: 500,
    retryable: false,
    means: 'CLICKHOUSE_DATABASE is not a plain identifier',
  },
  INVALID_CONFIGURATION: {
    status: 500,
    retryable: false,
    means: 'an environment variable is missing or wrong',
  },
  NOT_RUNNING: { status: 500, retryable: false, means: 'no Hourglass runs on the data folder (CLI)' },
  LOCAL_KAFKA_FAILED: {
    status: 500,
    retryable: false,
    means: 'the local Kafka broker could not be fetched or started',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; means: string }>

export type ErrorCode = keyof typeof errorCatalogue

/** An error whose code is in the catalogue: its status and retryability follow from the code. */
export class CatalogedError extends Error {
  readonly statusCode: number
  readonly retryable: boolean
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.statusCode = errorCatalogue[code].status
    this.retryable = errorCatalogue[code].retryable
  }
}
