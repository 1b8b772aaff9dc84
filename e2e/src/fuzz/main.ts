import { parseArgs } from 'node:util'
import { z } from 'zod'
import { type FuzzReport, runFuzz, summaryLine } from './fuzzHourglass.ts'

/**
 * `npm run fuzz -- [--count N] [--seed N] [--seconds N]`: drives an embedded Hourglass with
 * hostile inputs on every route of its OpenAPI document, then checks its projections. Exits
 * non-zero on any 5xx, error off the standard shape, unanswered request, stalled projection or
 * acknowledged record missing from the warehouse.
 */

const Options = z.object({
  count: z.coerce.number().int().min(1).max(10_000_000),
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  seconds: z.coerce
    .number()
    .positive()
    .max(24 * 3600),
})

const USAGE =
  'usage: npm run fuzz -- [--count N (default 10000)] [--seed N (default 1)] [--seconds N: time budget (default 900)]'

function report(result: FuzzReport) {
  const seconds = (result.elapsedMs / 1000).toFixed(0)
  console.log(
    `fuzz: sent ${result.inputs} inputs to ${result.routes} routes in ${seconds} s (seed ${result.seed})`,
  )
  console.log(`fuzz: ${result.counts.accepted} inputs were let through with a 2xx`)
  for (const [kind, findings] of Object.entries(result.findings)) {
    for (const f of findings)
      console.log(
        `fuzz: ${kind}: ${f.route} with ${f.mutation} (${f.url}) → ${f.status ?? 'none'}: ${f.answer}`,
      )
  }
  for (const s of result.stalled)
    console.log(
      `fuzz: projection ${s.projection} stalled, ${s.lag} records behind: ${s.lastError ?? 'no error'}`,
    )
  for (const t of result.tables) {
    console.log(
      `fuzz: ${t.table}: ${t.expected} records acknowledged, ${t.missing.length} missing, ${t.unexpected.length} unexpected` +
        (t.missing.length > 0 ? ` (first missing at log position ${t.missing[0]})` : ''),
    )
  }
  console.log(summaryLine(result))
}

async function main() {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '900' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  const parsed = Options.safeParse(values)
  if (!parsed.success) {
    console.error(
      `${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}\n${USAGE}`,
    )
    process.exitCode = 2
    return
  }
  const options = parsed.data
  console.log(
    `fuzz: up to ${options.count} inputs, seed ${options.seed}, at most ${options.seconds} s of sending`,
  )
  const result = await runFuzz({
    ...options,
    onProgress: (p) =>
      console.log(
        `fuzz: ${p.inputs}/${p.count} inputs, ${(p.elapsedMs / 1000).toFixed(0)} s, ${p.serverErrors} responses 5xx`,
      ),
  })
  report(result)
  if (!result.ok) process.exitCode = 1
}

await main()
