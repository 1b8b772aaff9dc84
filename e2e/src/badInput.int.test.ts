import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
let source: { id: string; apiToken: string }
let token: string
beforeAll(async () => {
  hg = await startTestHourglass()
  token = (await hg.signUp()).token
  source = await hg.createSource(token)
})
afterAll(() => hg?.close())

const event = (extra: Record<string, unknown> = {}) => ({
  name: 'view',
  timestamp: Date.now() - 1000,
  ...extra,
})
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) })

describe('bad input to POST /v1/events', () => {
  const cases: [
    string,
    () => { payload?: string; body?: unknown; token?: string },
    number,
    string,
    string?,
  ][] = [
    ['malformed JSON', () => ({ payload: '{"events": [' }), 400, 'MALFORMED_JSON'],
    ['an empty body', () => ({ payload: '' }), 400, 'EMPTY_BODY'],
    ['events that is not an array', () => ({ body: { events: 'view' } }), 400, 'INVALID_REQUEST', 'events'],
    ['no events field', () => ({ body: {} }), 400, 'INVALID_REQUEST', 'events'],
    ['an empty events array', () => ({ body: { events: [] } }), 400, 'INVALID_REQUEST', 'events'],
    [
      'a name of the wrong type',
      () => ({ body: { events: [event({ name: 42 })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].name',
    ],
    [
      'a missing name',
      () => ({ body: { events: [{ timestamp: Date.now() }] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].name',
    ],
    [
      'a missing timestamp',
      () => ({ body: { events: [{ name: 'v' }] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      'a timestamp that is not a date',
      () => ({ body: { events: [event({ timestamp: 'yesterday' })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      'an impossible date',
      () => ({ body: { events: [event({ timestamp: '2026-02-31T10:00:00Z' })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      'a date without a time zone',
      () => ({ body: { events: [event({ timestamp: '2026-11-22T10:00:00' })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      'a negative epoch',
      () => ({ body: { events: [event({ timestamp: -5 })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      'a far-future timestamp',
      () => ({ body: { events: [event({ timestamp: Date.now() + 30 * 86_400_000 })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].timestamp',
    ],
    [
      // Attribute values may be JSON objects and arrays (The Eye's `data`); attrs itself must be an object.
      'attrs that is not an object',
      () => ({ body: { events: [event({ attrs: [{ b: 1 }] })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].attrs',
    ],
    [
      'an unknown field',
      () => ({ body: { events: [event({ colour: 'red' })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0]',
    ],
    [
      'a control character in a name',
      () => ({ body: { events: [event({ name: 'a\u0000b' })] } }),
      400,
      'EVENTS_REJECTED',
      'events[0].name',
    ],
    [
      'one bad event among good ones',
      () => ({ body: { events: [event(), event({ name: '' }), event()] } }),
      400,
      'EVENTS_REJECTED',
      'events[1].name',
    ],
    [
      'more than 1,000 events',
      () => ({ body: { events: Array.from({ length: 1001 }, () => event()) } }),
      400,
      'INVALID_REQUEST',
      'events',
    ],
    [
      'a body over 1 MiB',
      () => ({ body: { events: [event({ attrs: { big: 'x'.repeat(1024 * 1024) } })] } }),
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'nesting deeper than 32',
      () => ({ payload: JSON.stringify({ events: [nested(40)] }) }),
      400,
      'NESTING_TOO_DEEP',
    ],
    [
      'a __proto__ key',
      () => ({ payload: '{"events":[{"name":"v","timestamp":1,"__proto__":{"admin":true}}]}' }),
      400,
      'FORBIDDEN_KEY',
    ],
    [
      'a __proto__ key spelled with escapes',
      () => ({ payload: '{"events":[{"name":"v","timestamp":1,"\\u005f_proto__":{"admin":true}}]}' }),
      400,
      'FORBIDDEN_KEY',
    ],
    [
      'nesting deeper than 32 after strings holding quotes and brackets',
      () => ({
        payload: `{"events":[{"name":"a\\\\","attrs":{"s":"${']'.repeat(20)}\\"${']'.repeat(20)}"}},${JSON.stringify(nested(40))}]}`,
      }),
      400,
      'NESTING_TOO_DEEP',
    ],
    [
      'a constructor.prototype key',
      () => ({ payload: '{"events":[],"constructor":{"prototype":{"x":1}}}' }),
      400,
      'FORBIDDEN_KEY',
    ],
    [
      'an unknown source token',
      () => ({ body: { events: [event()] }, token: `hg_${source.id}_${'A'.repeat(43)}` }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'a token of no known form',
      () => ({ body: { events: [event()] }, token: 'letmein' }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'an account token instead of a source token',
      () => ({ body: { events: [event()] }, token }),
      401,
      'UNAUTHENTICATED',
    ],
  ]

  it.each(cases)('refuses %s with a clear 4xx and appends nothing', async (_, make, status, code, path) => {
    const before = await hg.runtime.telemetry.head()
    const request = make()
    const response = await hg.request('POST', '/v1/events', {
      token: request.token ?? source.apiToken,
      ...(request.payload !== undefined ? { payload: request.payload } : { body: request.body }),
    })
    expect(response.statusCode).toBe(status)
    const body = response.json()
    expect(body.error.code).toBe(code)
    expect(body.error.message.length).toBeGreaterThan(10)
    if (path) expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path)
    expect(await hg.runtime.telemetry.head()).toBe(before)
  })

  it('appends the valid events of a batch with ?partial=true and reports each one', async () => {
    const response = await hg.request('POST', '/v1/events?partial=true', {
      token: source.apiToken,
      body: { events: [event({ id: 'p-1' }), event({ timestamp: 'soon' }), event({ id: 'p-1' })] },
    })
    expect(response.statusCode).toBe(207)
    const body = response.json()
    expect(body).toMatchObject({ accepted: 1, duplicates: 1, rejected: 1 })
    expect(body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'rejected',
      'duplicate',
    ])
    expect(body.results[1].issues[0].path).toBe('events[1].timestamp')
  })
})

describe('nothing a client sends yields a 5xx', () => {
  it('survives a bounded barrage of malformed requests on every route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['POST', '/v1/auth/signup'],
      ['POST', '/v1/auth/signin'],
      ['POST', '/v1/auth/refresh'],
      ['POST', '/v1/sources'],
      ['GET', '/v1/sources'],
      ['POST', '/v1/events'],
      ['GET', `/v1/sources/${source.id}/rollups/hourly`],
      ['GET', `/v1/sources/${source.id}/events`],
      ['GET', '/v1/sources/%00/events'],
      ['POST', '/v1/admin/projections/events/replay'],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '"x"',
      '1e999',
      '{"a":',
      '{}',
      '{"events":null}',
      '{"email":{},"password":[]}',
      '\u0000',
      '{"kind":"app","name":"\ud800"}',
    ]
    const queries = [
      '',
      '?from=banana',
      '?from=2026-01-02&to=2026-01-01',
      '?limit=-1',
      '?limit=99999',
      '?cursor=%%%',
      '?cursor=abc',
      `?name=${'x'.repeat(500)}`,
      '?from=1&to=99999999999999',
    ]
    const authorizations = [
      undefined,
      'Bearer',
      'Bearer x',
      `Bearer ${token}`,
      `Bearer ${source.apiToken}`,
      'Basic Zm9vOmJhcg==',
    ]
    await expectNoServerErrors(hg.runtime.app, { routes, queries, authorizations, payloads }, 1000)
  })
})
