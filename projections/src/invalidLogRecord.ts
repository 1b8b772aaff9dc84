import { CatalogedError } from '@hourglass/schemas'

/** A record the log holds that does not match its schema: projecting it would be guessing. */
export class InvalidLogRecordError extends CatalogedError {
  constructor(
    readonly position: number,
    reason: string,
  ) {
    super('INVALID_LOG_RECORD', `log record at position ${position} does not match its schema: ${reason}`)
  }
}
