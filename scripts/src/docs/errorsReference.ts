import { errorCatalogue } from '@hourglass/schemas'
import { generatedNotice, markdownTable, page } from './markdown.ts'

/** docs/reference/errors.md from the error catalogue (schemas/src/errorCatalogue.ts). */

const rowsWhere = (keep: (status: number) => boolean) =>
  Object.entries(errorCatalogue)
    .filter(([, entry]) => keep(entry.status))
    .map(([code, entry]) => [
      `\`${code}\``,
      String(entry.status),
      entry.retryable ? 'yes' : 'no',
      entry.means,
    ])

const HEADERS = ['code', 'HTTP status', 'retry may succeed', 'meaning']

export function renderErrorsReference(): string {
  return page(
    generatedNotice('the error catalogue (`schemas/src/errorCatalogue.ts`)'),
    '# Error codes',
    'Every error Hourglass answers with has the body `{"error": {"code", "message", "issues"?}}`. ' +
      'The `code` is the contract: it does not change. The `message` is for people and may change; ' +
      '`issues` name each wrong field and why. Input a client sent is never answered with a 5xx. ' +
      'The seed-compatible APIs answer with the same codes ([compat](../compat/README.md)).',
    '## Answers to requests a client must change (4xx)',
    markdownTable(
      HEADERS,
      rowsWhere((status) => status < 500),
    ),
    '## Faults and unavailability (5xx)',
    'Most codes with status 500 are raised inside Hourglass and are seen in its logs and in ' +
      '`hourglass status` rather than in answers.',
    markdownTable(
      HEADERS,
      rowsWhere((status) => status >= 500),
    ),
  )
}
