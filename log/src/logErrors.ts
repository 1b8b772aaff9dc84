import { CatalogedError } from '@hourglass/schemas'

/** Failures of a log or store adapter, translated at its edge. */

export class LogClosedError extends CatalogedError {
  constructor() {
    super('LOG_CLOSED', 'the log is closed')
  }
}

/** The log or store cannot take or give records right now (its server is unreachable, say): retry later. */
export class LogUnavailableError extends CatalogedError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('LOG_UNAVAILABLE', `the log is unavailable: ${reason}`, options)
  }
}
