import {
  type ControlRecord,
  type ControlStore,
  LogUnavailableError,
  type StreamAppendOutcome,
} from '@hourglass/log'
import { z } from 'zod'

export interface ControlServiceOptions {
  /** The control service, e.g. http://127.0.0.1:8090. */
  readonly url: string
  /** Shared secret of the services (HOURGLASS_CONTROL_TOKEN): the records hold password and token hashes. */
  readonly token: string
  readonly timeoutMs?: number
}

/**
 * One request to the control service with the services' token. Resolves with its answer,
 * whatever the status; a service that does not answer in time is unavailable (retry later).
 */
export async function requestControlService(
  options: ControlServiceOptions,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Response> {
  const base = options.url.replace(/\/$/, '')
  try {
    return await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    })
  } catch (error) {
    throw new LogUnavailableError(`the control service at ${base} did not answer`, { cause: error })
  }
}

/** The control service's wire format, checked on both sides: its routes and this client. */
export const controlWire = {
  /** Longest stream name the service takes. */
  streamNameMax: 512,
  /** Most records one append carries. */
  appendMax: 1000,
  /** Most records one page of `readAll` holds. */
  pageMax: 10_000,
  expected: z.union([z.literal('any'), z.literal('no-stream'), z.number().int().min(0)]),
  record: z.object({
    position: z.number().int().min(0),
    stream: z.string(),
    revision: z.number().int().min(0),
    id: z.string(),
    type: z.string(),
    data: z.unknown(),
    recordedAt: z.number(),
  }),
  appendOutcome: z.discriminatedUnion('status', [
    z.object({
      status: z.literal('appended'),
      firstPosition: z.number().int().min(0),
      revision: z.number().int().min(-1),
    }),
    z.object({ status: z.literal('conflict'), actualRevision: z.number().int().min(0).nullable() }),
  ]),
} as const

const Records = z.array(controlWire.record)

/**
 * The control store kept by one control process (the embedded log behind `hourglass control`),
 * reached over HTTP by every ingest, query and projection process. The control process is the
 * single writer, so an expected-revision append is as atomic as in embedded mode. Every answer
 * is checked: one that is not what the service sends is treated as the service being away.
 */
export function createHttpControlStore(options: ControlServiceOptions): ControlStore {
  const call = async <T>(
    schema: z.ZodType<T>,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<T> => {
    const response = await requestControlService(options, method, path, body)
    if (!response.ok) {
      throw new LogUnavailableError(
        `the control service answered ${response.status}: ${await response.text()}`,
      )
    }
    const answer = schema.safeParse(await response.json().catch(() => undefined))
    if (!answer.success) {
      throw new LogUnavailableError(
        `the control service's answer to ${method} ${path.split('?')[0]} is malformed: ${z.prettifyError(answer.error)}`,
      )
    }
    return answer.data
  }
  const streamPath = (stream: string) => `/control/streams/${encodeURIComponent(stream)}`
  return {
    appendToStream: (stream, records, expected): Promise<StreamAppendOutcome> =>
      call(controlWire.appendOutcome, 'POST', streamPath(stream), { records, expected }),
    readStream: (stream, fromRevision = 0): Promise<ControlRecord[]> =>
      call(Records, 'GET', `${streamPath(stream)}?from=${fromRevision}`),
    async readAll(from, limit) {
      if (limit <= 0) return []
      return call(
        Records,
        'GET',
        `/control/records?from=${from}&limit=${Math.min(limit, controlWire.pageMax)}`,
      )
    },
    close: async () => {},
  }
}
