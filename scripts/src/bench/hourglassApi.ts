import { randomUUID } from 'node:crypto'
import type { LoopbackAnswer, LoopbackClient } from './loopbackClient.ts'

export interface BenchAccount {
  readonly accountId: string
  readonly token: string
}

export interface BenchSource {
  readonly accountId: string
  readonly sourceId: string
  readonly apiToken: string
}

export interface RollupRow {
  readonly hour: string
  readonly name: string
  readonly events: number
  readonly subjects: number
}

/** The public API calls the benchmark makes, over the loopback client. */
export interface HourglassApi {
  signUp(): Promise<BenchAccount>
  createSource(account: BenchAccount, name: string): Promise<BenchSource>
  postEvents(source: BenchSource, body: string): Promise<LoopbackAnswer>
  hourlyRollup(
    account: BenchAccount,
    sourceId: string,
    range: { from: number; to: number },
  ): Promise<LoopbackAnswer>
  /** Events of a source visible in its hourly rollup over a range. */
  rollupTotal(account: BenchAccount, sourceId: string, range: { from: number; to: number }): Promise<number>
}

const expect = (answer: LoopbackAnswer, status: number, what: string): unknown => {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status}: ${answer.body}`)
  return JSON.parse(answer.body)
}

export function hourglassApi(client: LoopbackClient): HourglassApi {
  const hourlyRollup: HourglassApi['hourlyRollup'] = (account, sourceId, { from, to }) =>
    client.send('GET', `/v1/sources/${sourceId}/rollups/hourly?from=${from}&to=${to}`, {
      token: account.token,
    })
  return {
    async signUp() {
      const body = JSON.stringify({
        email: `bench-${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Benchmark',
      })
      const answer = await client.send('POST', '/v1/auth/signup', { body })
      return expect(answer, 201, 'sign-up') as BenchAccount
    },
    async createSource(account, name) {
      const body = JSON.stringify({ kind: 'app', name })
      const answer = await client.send('POST', '/v1/sources', { token: account.token, body })
      const source = expect(answer, 201, 'create source') as { id: string; apiToken: string }
      return { accountId: account.accountId, sourceId: source.id, apiToken: source.apiToken }
    },
    postEvents: (source, body) => client.send('POST', '/v1/events', { token: source.apiToken, body }),
    hourlyRollup,
    async rollupTotal(account, sourceId, range) {
      const answer = await hourlyRollup(account, sourceId, range)
      const { rows } = expect(answer, 200, 'hourly rollup') as { rows: RollupRow[] }
      let total = 0
      for (const row of rows) total += row.events
      return total
    },
  }
}
