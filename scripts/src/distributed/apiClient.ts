export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface ApiRequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string
  /** Sent as JSON. */
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

export interface ApiAnswer {
  readonly status: number
  /** The body parsed as JSON, or its text when it is not JSON. */
  readonly body: unknown
  /** The body as a test expects it to be (not checked: the test's assertions check it). */
  json<T>(): T
}

/**
 * One HTTP request to a running Hourglass, whichever way it runs: `inject()` into an embedded
 * instance, or fetch() to a service process of distributed mode. Flows written against it run
 * in both modes.
 */
export type ApiCall = (method: ApiMethod, path: string, options?: ApiRequestOptions) => Promise<ApiAnswer>

export function apiAnswer(status: number, text: string): ApiAnswer {
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON (a page, an empty 204): the text stands.
  }
  return { status, body, json: <T>() => body as T }
}
