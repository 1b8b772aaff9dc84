import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EmbeddedConfig } from '@hourglass/control'
import type { QuarantinedRecord, RedriveOutcome, RedriveRequest } from '@hourglass/projections'
import { CatalogedError } from '@hourglass/schemas'
import type { AdminStatus, ReplayState } from './adminRoutes.ts'

/** Talks to a running Hourglass's operator endpoints, or says that none is running. */
export interface OperatorClient {
  status(): Promise<AdminStatus>
  startReplay(projection: string): Promise<ReplayState>
  /** True when a build was abandoned, false when none was under way. */
  cancelReplay(projection: string): Promise<boolean>
  quarantined(filter: { projection?: string; position?: number }): Promise<{ records: QuarantinedRecord[] }>
  retryQuarantined(request: RedriveRequest): Promise<{ outcomes: RedriveOutcome[] }>
  dropQuarantined(request: {
    projection?: string
    position?: number
  }): Promise<{ dropped: QuarantinedRecord[] }>
}

export class NotRunningError extends CatalogedError {
  constructor(message: string) {
    super('NOT_RUNNING', message)
  }
}

export function createOperatorClient(config: EmbeddedConfig): OperatorClient {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${config.port}`
  const token = () => {
    try {
      return readFileSync(join(config.dataDir, 'secrets', 'admin-token'), 'utf8').trim()
    } catch {
      throw new NotRunningError(`no Hourglass has run on ${config.dataDir} yet`)
    }
  }
  const call = async <T>(method: string, path: string, payload?: object): Promise<T> => {
    let response: Response
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token()}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
        ...(payload ? { body: JSON.stringify(payload) } : {}),
      })
    } catch (error) {
      if (error instanceof NotRunningError) throw error
      throw new NotRunningError(`no Hourglass answers on ${base}`)
    }
    const body = (await response.json()) as T & { error?: { message: string } }
    if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`)
    return body
  }
  return {
    status: () => call<AdminStatus>('GET', '/v1/admin/status'),
    startReplay: (projection) =>
      call<ReplayState>('POST', `/v1/admin/projections/${encodeURIComponent(projection)}/replay`),
    cancelReplay: async (projection) =>
      (
        await call<{ cancelled: boolean }>(
          'DELETE',
          `/v1/admin/projections/${encodeURIComponent(projection)}/replay`,
        )
      ).cancelled,
    quarantined: (filter) => {
      const query = new URLSearchParams()
      if (filter.projection) query.set('projection', filter.projection)
      if (filter.position !== undefined) query.set('position', String(filter.position))
      return call('GET', `/v1/admin/quarantine?${query}`)
    },
    retryQuarantined: (request) => call('POST', '/v1/admin/quarantine/retry', request),
    dropQuarantined: (request) => call('POST', '/v1/admin/quarantine/drop', request),
  }
}
