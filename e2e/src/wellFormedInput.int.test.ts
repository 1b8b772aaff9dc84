import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createStore,
  METRICA,
  metricaMessage,
  metricaUserWithApp,
  RECEIPTS,
  STORE_STATS,
  type StoreHandle,
  THE_EYE,
  TRACKING_PLAN,
} from './harness/featureFlows.ts'
import { seedReceipt } from './harness/receiptFixtures.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Only well-formed input enters the log: every string well-formed Unicode, no control
 * characters in ids, names, types and codes, finite numbers everywhere. Each case below was
 * accepted before the rule, and each must now be a 400 that names the field and appends nothing.
 */

let hg: TestHourglass
let account: string
let app: { id: string; apiToken: string }
let place: { id: string; apiToken: string }
let fleet: { id: string; apiToken: string }
let store: StoreHandle
let personId: string
let metrica: Awaited<ReturnType<typeof metricaUserWithApp>>
let eyeToken: string
let eyeSession: string

beforeAll(async () => {
  hg = await startTestHourglass()
  const signedUp = await hg.signUp()
  account = signedUp.token
  app = await hg.createSource(account)
  const defined = await hg.request('POST', `/v1/sources/${app.id}/event-definitions`, {
    token: account,
    body: TRACKING_PLAN,
  })
  expect(defined.statusCode).toBe(201)
  place = await hg.createSource(account, 'place')
  fleet = await hg.createSource(account, 'device')
  const bound = await hg.request('PUT', `/v1/sources/${fleet.id}/devices/dev-1/owner`, {
    token: account,
    body: { userId: null },
  })
  expect(bound.statusCode).toBe(200)
  store = await createStore(hg.api, account, 'Shop')
  const person = await hg.request('POST', '/v1/people', {
    token: store.token,
    body: { email: 'ann@example.org', username: 'ann', firstName: 'Ann', lastName: 'Lee', phone: '+351 912' },
  })
  expect(person.statusCode).toBe(201)
  personId = person.json().id
  metrica = await metricaUserWithApp(hg.api)
  const eyeAuth = await hg.request('POST', `${THE_EYE}/api-token-auth/`, {
    body: { username: signedUp.email, password: signedUp.password },
  })
  eyeToken = eyeAuth.json().token
  const session = await hg.request('POST', `${THE_EYE}/sessions/`, { token: eyeToken })
  expect(session.statusCode).toBe(201)
  eyeSession = session.json().id
})
afterAll(() => hg?.close())

const now = () => Date.now() - 60_000
const event = (extra: Record<string, unknown> = {}) => ({ name: 'view', timestamp: now(), ...extra })
const receipt = (extra: Record<string, unknown> = {}) => ({
  ...seedReceipt(),
  transaction_id: `tx-${Math.random()}`,
  ...extra,
})
const storeEvent = (extra: Record<string, unknown> = {}) => ({ type: 'view', userId: personId, ...extra })
const compatStoreEvent = (extra: Record<string, unknown> = {}) => ({
  type: 'view',
  store_id: store.number,
  user_id: personId,
  ...extra,
})
const compatPerson = (extra: Record<string, unknown> = {}) => ({
  email: `p-${Math.random()}@example.org`,
  username: 'bob',
  first_name: 'Bob',
  last_name: 'Ray',
  phone: 79161234567,
  ...extra,
})
const metricaSignup = (extra: Record<string, unknown> = {}) => ({
  name: 'Ana',
  surname: 'Lima',
  email: `m-${Math.random()}@example.org`,
  password: 'secret-1',
  phone: '+351 912 345 678',
  ...extra,
})
/** JSON text of `body` where the string "INFINITE" stands for the number 1e309 (Infinity once parsed). */
const withInfinity = (body: unknown) => JSON.stringify(body).replace('"INFINITE"', '1e309')
/** UTF-8 bytes of `body`'s JSON text, where the string "BAD" is replaced by bytes that are not UTF-8. */
const withInvalidUtf8 = (body: unknown, bytes: number[]) => {
  const [before, after] = JSON.stringify(body).split('BAD') as [string, string]
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)])
}

type Method = 'POST' | 'PUT' | 'PATCH'
interface Case {
  readonly method: Method
  readonly url: () => string
  readonly token: () => string
  readonly body?: () => unknown
  readonly payload?: () => string | Buffer
  readonly path: string
}
const post = (url: string | (() => string), token: () => string, path: string) => ({
  json: (body: () => unknown): Case => ({
    method: 'POST',
    url: typeof url === 'string' ? () => url : url,
    token,
    body,
    path,
  }),
  raw: (payload: () => string | Buffer): Case => ({
    method: 'POST',
    url: typeof url === 'string' ? () => url : url,
    token,
    payload,
    path,
  }),
})
const appToken = () => app.apiToken
const placeToken = () => place.apiToken
const fleetToken = () => fleet.apiToken
const storeToken = () => store.token
const accountToken = () => account
const noToken = () => ''

const LONE_SURROGATE = /well-formed Unicode: a lone surrogate/
const CONTROL = /must not contain control characters/
const NOT_UTF8 = /not valid UTF-8/
const NOT_FINITE = /finite number/

const cases: [string, Case, RegExp][] = [
  // Lone UTF-16 surrogates, sent as JSON escapes: ClickHouse refuses them, stalling every projection.
  [
    "an event's id",
    post('/v1/events', appToken, 'events[0].id').json(() => ({ events: [event({ id: 'k\ud800' })] })),
    LONE_SURROGATE,
  ],
  [
    "an event's name (the request of the report, as curl sends it)",
    post('/v1/events', appToken, 'events[0].name').raw(
      () => '{"events":[{"id":"bad-1","name":"x\\ud800","timestamp":"2026-01-03T17:00:00Z"}]}',
    ),
    LONE_SURROGATE,
  ],
  [
    "a receipt's transaction_id",
    post('/v1/receipts', placeToken, 'transaction_id').json(() => receipt({ transaction_id: 'tx-\udbff' })),
    LONE_SURROGATE,
  ],
  [
    "a receipt's place_name (seed 003's API)",
    post(`${RECEIPTS}/api/checks/`, placeToken, 'place_name').json(() =>
      receipt({ place_name: 'Магазин \ud83d' }),
    ),
    LONE_SURROGATE,
  ],
  [
    'a defined string attribute',
    post('/v1/events', appToken, 'events[0].attrs.product').json(() => ({
      events: [
        {
          name: 'product_view',
          timestamp: now(),
          attrs: { product: '\ude00', quantity: 1, price: 1, logged_in: true },
        },
      ],
    })),
    LONE_SURROGATE,
  ],
  [
    "a defined string attribute (seed 000's device message)",
    post(
      () => `${METRICA}/${metrica.appCode}`,
      () => metrica.apiToken,
      'attrs[0].value',
    ).json(() => metricaMessage('u-1', 'phone \ud800', 2)),
    LONE_SURROGATE,
  ],
  [
    "a store event's type",
    post('/v1/store-events', storeToken, 'type').json(() => storeEvent({ type: 'view\ud800' })),
    LONE_SURROGATE,
  ],
  [
    "a store event's type (seed 001's API)",
    post(`${STORE_STATS}/api/event`, storeToken, 'type').json(() => compatStoreEvent({ type: '\udc00view' })),
    LONE_SURROGATE,
  ],
  [
    "a reading's id",
    post('/v1/readings', fleetToken, 'readings[0].id').json(() => ({
      readings: [{ id: 'r\ud800', deviceId: 'dev-1', timestamp: now(), metrics: { t: 1 } }],
    })),
    LONE_SURROGATE,
  ],
  [
    "a reading's id (seed 004's API)",
    post(`/compat/devices/stats/dev-1`, fleetToken, 'id').json(() => ({ id: 'r\udfff', t: 1 })),
    LONE_SURROGATE,
  ],
  [
    'a key of a store event data',
    post('/v1/store-events', storeToken, 'data').json(() => storeEvent({ data: { 'page\ud800': 1 } })),
    LONE_SURROGATE,
  ],
  // Bytes that are not UTF-8: once silently turned into U+FFFD.
  [
    "invalid UTF-8 in an event's name",
    post('/v1/events', appToken, 'events[0].name').raw(() =>
      withInvalidUtf8({ events: [event({ name: 'BAD' })] }, [0x76, 0xff, 0x77]),
    ),
    NOT_UTF8,
  ],
  [
    "a truncated UTF-8 sequence in a receipt's place_name",
    post('/v1/receipts', placeToken, 'place_name').raw(() =>
      withInvalidUtf8(receipt({ place_name: 'BAD' }), [0x4d, 0xd0]),
    ),
    NOT_UTF8,
  ],
  [
    "a UTF-8-encoded surrogate in a store event's data",
    post('/v1/store-events', storeToken, 'data.page').raw(() =>
      withInvalidUtf8(storeEvent({ data: { page: 'BAD' } }), [0xed, 0xa0, 0x80]),
    ),
    NOT_UTF8,
  ],
  // Control characters in ids, names, types and codes.
  [
    "NUL in an account's name",
    post('/v1/auth/signup', noToken, 'name').json(() => ({
      email: `n-${Math.random()}@example.org`,
      password: 'correct horse',
      name: 'Ana\u0000',
    })),
    CONTROL,
  ],
  [
    "an escape character in an account's name (seed 000's API)",
    post(`${METRICA}/auth/signup`, noToken, 'surname').json(() =>
      metricaSignup({ surname: 'Li\u001b[31mma' }),
    ),
    CONTROL,
  ],
  [
    "a line break in a source's name",
    post('/v1/sources', accountToken, 'name').json(() => ({ kind: 'app', name: 'shop\nadmin' })),
    CONTROL,
  ],
  [
    "NUL in a person's first name",
    post('/v1/people', storeToken, 'firstName').json(() => ({
      email: `f-${Math.random()}@example.org`,
      username: 'fay',
      firstName: 'F\u0000ay',
      lastName: 'Lee',
      phone: '+351 912',
    })),
    CONTROL,
  ],
  [
    "a C1 control in a person's last name (seed 001's API)",
    post(`${STORE_STATS}/api/user`, storeToken, 'last_name').json(() =>
      compatPerson({ last_name: 'Ray\u0085' }),
    ),
    CONTROL,
  ],
  [
    'a bell in place_name',
    post('/v1/receipts', placeToken, 'place_name').json(() => receipt({ place_name: 'Shop \u0007' })),
    CONTROL,
  ],
  [
    "NUL in a store event's type",
    post('/v1/store-events', storeToken, 'type').json(() => storeEvent({ type: 'vi\u0000ew' })),
    CONTROL,
  ],
  [
    "DEL in a store event's type (seed 001's API)",
    post(`${STORE_STATS}/api/event`, storeToken, 'type').json(() => compatStoreEvent({ type: 'view\u007f' })),
    CONTROL,
  ],
  [
    "a C1 control in an event's name",
    post('/v1/events', appToken, 'events[0].name').json(() => ({ events: [event({ name: 'view\u009b' })] })),
    CONTROL,
  ],
  [
    "a control character in an attribute's name",
    post('/v1/events', appToken, 'events[0].attrs').json(() => ({
      events: [event({ attrs: { 'a\u0001': 1 } })],
    })),
    CONTROL,
  ],
  [
    'NUL in an attribute value',
    post('/v1/events', appToken, 'events[0].attrs.note').json(() => ({
      events: [event({ attrs: { note: 'a\u0000b' } })],
    })),
    CONTROL,
  ],
  // Numbers beyond a double: JSON.parse reads 1e309 as Infinity.
  [
    "1e309 in a store event's data",
    post('/v1/store-events', storeToken, 'data.duration').raw(() =>
      withInfinity(storeEvent({ data: { duration: 'INFINITE' } })),
    ),
    NOT_FINITE,
  ],
  [
    "1e309 deep in a store event's data (seed 001's API)",
    post(`${STORE_STATS}/api/event`, storeToken, 'data.a.b[1]').raw(() =>
      withInfinity(compatStoreEvent({ data: { a: { b: [1, 'INFINITE'] } } })),
    ),
    NOT_FINITE,
  ],
  [
    "1e309 nested in an event's attributes",
    post('/v1/events', appToken, 'events[0].attrs.cart.total').raw(() =>
      withInfinity({ events: [event({ attrs: { cart: { total: 'INFINITE' } } })] }),
    ),
    NOT_FINITE,
  ],
  [
    "1e309 in The Eye's data",
    post(`${THE_EYE}/events/`, () => eyeToken, 'data.x').raw(() =>
      withInfinity({
        session_id: eyeSession,
        category: 'page interaction',
        name: 'cta click',
        data: { x: 'INFINITE' },
        timestamp: '2026-01-01 09:15:27.243860',
      }),
    ),
    NOT_FINITE,
  ],
]

describe('only well-formed input enters the log', () => {
  it.each(cases)('refuses %s with a 400 naming the field, and appends nothing', async (_, c, reason) => {
    const before = await hg.runtime.telemetry.head()
    const response = await hg.request(c.method, c.url(), {
      ...(c.token() ? { token: c.token() } : {}),
      ...(c.payload ? { payload: c.payload() } : { body: c.body?.() }),
    })
    expect(response.statusCode, response.body).toBe(400)
    const { error } = response.json()
    expect(typeof error.code).toBe('string')
    const issue = error.issues.find((i: { path: string }) => i.path === c.path)
    expect(issue, JSON.stringify(error.issues)).toBeDefined()
    expect(issue.message).toMatch(reason)
    expect(await hg.runtime.telemetry.head()).toBe(before)
  })

  it('keeps well-formed text as it was sent: emoji, other scripts, lines in free text', async () => {
    const attrs = { note: 'line one\nline two\ttabbed\r', emoji: '👩‍💻 ✓', nested: { 'ключ 🔑': ['日本'] } }
    const sent = await hg.request('POST', '/v1/events', {
      token: app.apiToken,
      body: { events: [event({ id: 'ok-😀', name: 'café 👀', subject: 'ユーザー', attrs })] },
    })
    expect(sent.statusCode, sent.body).toBe(200)
    await hg.settled()
    const read = await hg.request('GET', `/v1/sources/${app.id}/events?limit=10`, {
      token: account,
    })
    expect(read.statusCode).toBe(200)
    const stored = read.json().events.find((e: { id: string }) => e.id === 'ok-😀')
    expect(stored).toMatchObject({ name: 'café 👀', subject: 'ユーザー', attrs })
  })
})

describe('what the router refuses', () => {
  it.each([
    ['a percent-escape that is not UTF-8', '/v1/sources/%FF/events', 400, 'MALFORMED_PATH'],
    ['an escaped UTF-8 surrogate', '/v1/sources/%ED%A0%80/events', 400, 'MALFORMED_PATH'],
    ['a lone percent sign', '/v1/sources/%/events', 400, 'MALFORMED_PATH'],
    ['a path parameter over 100 characters', `/v1/sources/${'x'.repeat(300)}/events`, 414, 'PATH_TOO_LONG'],
  ])('answers %s in the standard error shape', async (_, url, status, code) => {
    const response = await hg.request('GET', url, { token: account })
    expect(response.statusCode).toBe(status)
    expect(response.json()).toEqual({ error: { code, message: expect.any(String) } })
  })
})
