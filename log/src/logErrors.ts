/** Failures of a log or store adapter, translated at its edge. */

export class LogClosedError extends Error {
  readonly code = 'LOG_CLOSED'
  readonly retryable = true
  constructor() {
    super('the log is closed')
  }
}

/** The log or store cannot take or give records right now (its server is unreachable, say): retry later. */
export class LogUnavailableError extends Error {
  readonly code = 'LOG_UNAVAILABLE'
  readonly retryable = true
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the log is unavailable: ${reason}`, options)
  }
}
