import {
  type EventLog,
  type ExpectedRevision,
  LogOperationUnsupportedError,
  type LogRecord,
  LogUnavailableError,
  type NewStreamRecord,
  type StreamAppendOutcome,
} from '../eventLog.ts'

/** The control-plane half of the event log: streams with expected revisions, and their records in order. */
export type ControlLog = Pick<EventLog, 'appendToStream' | 'readStream' | 'readControl' | 'close'>

export interface ControlServiceOptions {
  /** The control service, e.g. http://127.0.0.1:8090. */
  readonly url: string
  /** Shared secret of the services (HOURGLASS_CONTROL_TOKEN): the records hold password and token hashes. */
  readonly token: string
  readonly timeoutMs?: number
}

export type HttpControlLogOptions = ControlServiceOptions

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

/**
 * Control-plane streams kept by one control process (the embedded log behind `hourglass
 * control`), reached over HTTP by every ingest and query process. The control process is the
 * single writer, so an expected-revision append is as atomic as in embedded mode.
 */
export function createHttpControlLog(options: HttpControlLogOptions): ControlLog {
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const response = await requestControlService(options, method, path, body)
    if (!response.ok) {
      throw new LogUnavailableError(
        `the control service answered ${response.status}: ${await response.text()}`,
      )
    }
    return (await response.json()) as T
  }
  return {
    appendToStream: (stream: string, records: readonly NewStreamRecord[], expected: ExpectedRevision) =>
      call<StreamAppendOutcome>('POST', `/control/streams/${encodeURIComponent(stream)}`, {
        records,
        expected,
      }),
    readStream: (stream: string, fromRevision = 0) =>
      call<LogRecord[]>('GET', `/control/streams/${encodeURIComponent(stream)}?from=${fromRevision}`),
    readControl: (from: number, limit: number) =>
      call<LogRecord[]>('GET', `/control/records?from=${from}&limit=${limit}`),
    close: async () => {},
  }
}

/**
 * One EventLog over two stores: telemetry in one (Kafka), control-plane streams in another
 * (the control service). Reads of telemetry go to the telemetry log.
 */
export function combineEventLogs(telemetry: EventLog, control: ControlLog): EventLog {
  return {
    appendEvents: (records) => telemetry.appendEvents(records),
    appendToStream: (stream, records, expected) => control.appendToStream(stream, records, expected),
    readStream: (stream, fromRevision) => control.readStream(stream, fromRevision),
    readControl: (from, limit) => control.readControl(from, limit),
    read: (from, limit) => telemetry.read(from, limit),
    subscribe: (from, options) => telemetry.subscribe(from, options),
    head: () => telemetry.head(),
    async close() {
      await telemetry.close()
      await control.close()
    },
  }
}

/** The control plane alone, for a process that reads no telemetry (the query service). */
export function controlOnlyEventLog(control: ControlLog): EventLog {
  const unsupported = (operation: string) =>
    Promise.reject(
      new LogOperationUnsupportedError(operation, 'this process holds control-plane streams only'),
    )
  return {
    appendEvents: () => unsupported('appendEvents'),
    appendToStream: (stream, records, expected) => control.appendToStream(stream, records, expected),
    readStream: (stream, fromRevision) => control.readStream(stream, fromRevision),
    readControl: (from, limit) => control.readControl(from, limit),
    read: () => unsupported('read'),
    subscribe: () => ({
      [Symbol.asyncIterator]: () => ({ next: () => unsupported('subscribe') }),
    }),
    head: () => unsupported('head'),
    close: () => control.close(),
  }
}
