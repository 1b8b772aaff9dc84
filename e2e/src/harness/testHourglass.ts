import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EmbeddedConfig, loadEmbeddedConfig } from '@hourglass/control'
import { caughtUp, type EmbeddedRuntime, localSecret, startEmbedded } from '@hourglass/scripts'
import { type ApiCall, apiAnswer } from '@hourglass/scripts/distributed'
import type { LightMyRequestResponse } from 'fastify'
import { type DestinationStream, pino } from 'pino'

export interface TestHourglass {
  /** The running instance; replaced by `restart()`. */
  readonly runtime: EmbeddedRuntime
  readonly config: EmbeddedConfig
  /** The operator token of this data folder. */
  readonly adminToken: string
  request(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    options?: {
      token?: string
      body?: unknown
      /** The body as it is sent: raw text, or bytes (which need not be UTF-8). */
      payload?: string | Buffer
      headers?: Record<string, string>
    },
  ): Promise<LightMyRequestResponse>
  /** The same requests as `request`, for flows shared with distributed mode. */
  readonly api: ApiCall
  /** A new account with its token. */
  signUp(): Promise<{ token: string; accountId: string; email: string; password: string }>
  /** A new source of an account, with its API token. */
  createSource(token: string, kind?: string): Promise<{ id: string; apiToken: string }>
  /** Resolves once every projection has applied the whole log. */
  settled(): Promise<void>
  /** Stops the instance and starts a new one on the same data folder. */
  restart(): Promise<void>
  close(): Promise<void>
}

/**
 * A real embedded Hourglass (LMDB log, chDB warehouse) in a temporary folder, driven through
 * `inject()`. chDB allows one data folder per process, so use one per test file.
 */
export async function startTestHourglass(
  env: Record<string, string> = {},
  options: { logTo?: DestinationStream } = {},
): Promise<TestHourglass> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hourglass-test-'))
  const config = loadEmbeddedConfig({ HOURGLASS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env })
  const logger = options.logTo
    ? pino({ level: config.logLevel }, options.logTo)
    : pino({ level: config.logLevel })
  let runtime = await startEmbedded(config, logger, { listen: false })
  const request: TestHourglass['request'] = (method, url, options = {}) =>
    runtime.app.inject({
      method,
      url,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined || options.payload !== undefined
          ? { 'content-type': 'application/json' }
          : {}),
        ...options.headers,
      },
      ...(options.payload !== undefined
        ? { payload: options.payload }
        : options.body !== undefined
          ? { payload: JSON.stringify(options.body) }
          : {}),
    })
  const expectStatus = (response: LightMyRequestResponse, status: number) => {
    if (response.statusCode !== status) {
      throw new Error(`expected HTTP ${status}, got ${response.statusCode}: ${response.body}`)
    }
    return response.json()
  }
  return {
    get runtime() {
      return runtime
    },
    config,
    adminToken: localSecret(dataDir, 'admin-token'),
    request,
    api: async (method, url, options) => {
      const response = await request(method, url, options)
      return apiAnswer(response.statusCode, response.body)
    },
    async signUp() {
      const email = `user-${randomUUID()}@example.com`
      const password = 'correct horse battery'
      const body = expectStatus(
        await request('POST', '/v1/auth/signup', { body: { email, password, name: 'Test' } }),
        201,
      )
      return { token: body.token, accountId: body.accountId, email, password }
    },
    async createSource(token, kind = 'app') {
      const body = expectStatus(
        await request('POST', '/v1/sources', { token, body: { kind, name: `source-${randomUUID()}` } }),
        201,
      )
      return { id: body.id, apiToken: body.apiToken }
    },
    async settled() {
      await caughtUp(runtime)
    },
    async restart() {
      await runtime.close()
      runtime = await startEmbedded(config, logger, { listen: false })
    },
    async close() {
      await runtime.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
