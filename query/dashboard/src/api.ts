/** The Hourglass API as the dashboard reads it: same origin, account token as a bearer. */

export type SourceKind = 'app' | 'store' | 'device' | 'place' | 'site'

export interface Source {
  readonly id: string
  readonly kind: SourceKind
  readonly name: string
  readonly createdAt: string
}

export interface Freshness {
  readonly newestEventAt: string | null
  readonly lastReceivedAt: string | null
  readonly records: number
  readonly lag: number
  /** A projection is stalled: newer data waits. */
  readonly heldUp: boolean
  /** Records of this source set aside because a projection could not apply them. */
  readonly quarantined: number
  readonly projections: readonly {
    readonly projection: string
    readonly lag: number
    readonly stalledSince: string | null
    readonly quarantined: number
  }[]
  readonly checkedAt: string
}

export interface Overview {
  readonly from: string
  readonly to: string
  readonly hours: readonly { readonly hour: string; readonly events: number; readonly users: number }[]
  readonly names: readonly { readonly name: string; readonly events: number; readonly users: number }[]
  readonly byName: readonly { readonly hour: string; readonly name: string; readonly events: number }[]
}

export interface RawEvent {
  readonly id: string
  readonly position: number
  readonly name: string
  readonly timestamp: string
  readonly receivedAt: string
  readonly subject?: string
  readonly session?: string
  readonly category?: string
  readonly attrs: Record<string, unknown>
}

export interface EventsPage {
  readonly events: readonly RawEvent[]
  readonly nextCursor: string | null
}

export interface StoreDaily {
  readonly days: readonly {
    readonly date: string
    readonly type: string
    readonly events: number
    readonly timedEvents: number
    readonly averageDuration: number | null
  }[]
}

export interface Figures {
  readonly purchases: number
  readonly averageReceipt: string
  readonly revenue: string
  readonly nds: string
  readonly tips: string
}

export interface ReceiptAnalytics {
  readonly from: string
  readonly to: string
  readonly totals: Figures
  readonly hours: readonly (Figures & { readonly hour: string })[]
  readonly categories: readonly {
    readonly category: string
    readonly items: number
    readonly revenue: string
  }[]
  readonly places: readonly (Figures & { readonly placeId: string; readonly placeName: string })[]
}

export interface DeviceSeries {
  readonly metric: string | null
  readonly metrics: readonly string[]
  readonly devices: readonly string[]
  readonly points: readonly {
    readonly time: string
    readonly count: number
    readonly min: number
    readonly mean: number
    readonly max: number
    readonly median: number
    readonly p95: number
  }[]
}

export interface EventDefinition {
  readonly eventCode: string
  readonly name: string
  readonly attrs: readonly { readonly name: string; readonly type: string }[]
  readonly statistics: { readonly keyAttribute: string | null; readonly amountAttribute: string | null }
}

export interface UserStats {
  readonly eventCode: string
  readonly name: string
  readonly keyAttribute: string | null
  readonly amountAttribute: string | null
  readonly users: readonly { readonly user: string; readonly values: Record<string, number> }[]
  readonly nextCursor: string | null
}

/** An answer other than 2xx, with the API's stable error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

type Query = Record<string, string | number | undefined>

export interface Api {
  signIn(email: string, password: string): Promise<string>
  signUp(email: string, password: string, name: string): Promise<string>
  refresh(): Promise<string>
  sources(): Promise<readonly Source[]>
  freshness(sourceId: string): Promise<Freshness>
  overview(sourceId: string, range: Query): Promise<Overview>
  events(sourceId: string, filter: Query): Promise<EventsPage>
  storeDaily(sourceId: string, range: Query): Promise<StoreDaily>
  receiptAnalytics(sourceId: string, range: Query): Promise<ReceiptAnalytics>
  deviceSeries(sourceId: string, query: Query): Promise<DeviceSeries>
  eventDefinitions(sourceId: string): Promise<readonly EventDefinition[]>
  userStats(sourceId: string, eventCode: string, query: Query): Promise<UserStats>
}

const queryString = (query: Query) => {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query))
    if (value !== undefined && value !== '') params.set(key, String(value))
  const text = params.toString()
  return text ? `?${text}` : ''
}
const part = encodeURIComponent

/**
 * The API client. `token()` gives the current account token; `onUnauthenticated` is told when
 * the API answers 401 (the token expired or was never valid), after which the call still fails.
 */
export function createApi(options: { token(): string | null; onUnauthenticated(): void }): Api {
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const token = options.token()
    const response = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const payload = (await response.json().catch(() => null)) as
      | (T & { error?: { code?: string; message?: string } })
      | null
    if (!response.ok) {
      if (response.status === 401 && !path.startsWith('/v1/auth/sign')) options.onUnauthenticated()
      throw new ApiError(
        response.status,
        payload?.error?.code ?? 'HTTP_ERROR',
        payload?.error?.message ?? `the server answered ${response.status}`,
      )
    }
    return payload as T
  }
  const get = <T>(path: string, query: Query = {}) => call<T>('GET', `${path}${queryString(query)}`)
  const sourcePath = (id: string) => `/v1/sources/${part(id)}`

  return {
    signIn: async (email, password) =>
      (await call<{ token: string }>('POST', '/v1/auth/signin', { email, password })).token,
    signUp: async (email, password, name) =>
      (await call<{ token: string }>('POST', '/v1/auth/signup', { email, password, name })).token,
    refresh: async () => (await call<{ token: string }>('POST', '/v1/auth/refresh')).token,
    sources: async () => (await get<{ sources: Source[] }>('/v1/sources')).sources,
    freshness: (id) => get(`${sourcePath(id)}/freshness`),
    overview: (id, range) => get(`${sourcePath(id)}/overview`, range),
    events: (id, filter) => get(`${sourcePath(id)}/events`, filter),
    storeDaily: (id, range) => get(`${sourcePath(id)}/store-stats/daily`, range),
    receiptAnalytics: (id, range) => get('/v1/receipts/analytics', { ...range, source: id }),
    deviceSeries: (id, query) => get(`${sourcePath(id)}/device-series`, query),
    eventDefinitions: async (id) =>
      (await get<{ definitions: EventDefinition[] }>(`${sourcePath(id)}/event-definitions`)).definitions,
    userStats: (id, code, query) =>
      get(`${sourcePath(id)}/event-definitions/${part(code)}/user-stats`, query),
  }
}
