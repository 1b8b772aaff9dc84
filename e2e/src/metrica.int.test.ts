import { randomUUID } from 'node:crypto'
import { parseApiToken } from '@hourglass/control'
import { sourceIdOfAppCode } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expectedMetricaStats,
  METRICA as M,
  metricaMessage,
  metricaUserWithApp,
  PRODUCT_VIEWS,
} from './harness/featureFlows.ts'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const HOUR = 3600_000

const message = metricaMessage
const expectedStats = expectedMetricaStats
/** A Metrica user with an app and the seed's event defined. */
const userWithApp = () => metricaUserWithApp(hg.api)

describe('Metrica (seed 000) at /compat/metrica', () => {
  it('walks the seed: sign-up, sign-in, refresh, an app, its event, device messages, per-user statistics', async () => {
    // Given a user who signs up, signs in and refreshes the token as the seed shows.
    const signup = await hg.request('POST', `${M}/auth/signup`, {
      body: { name: 'theUser', surname: 'James', email: 'john@email.com', password: '12345', phone: '12345' },
    })
    expect(signup.statusCode).toBe(200)
    expect(Object.keys(signup.json())).toEqual(['jwt_token'])
    const signin = await hg.request('POST', `${M}/auth/signin`, {
      body: { email: 'john@email.com', password: '12345' },
    })
    expect(signin.statusCode).toBe(200)
    const refresh = await hg.request('GET', `${M}/auth/refresh`, { token: signin.json().jwt_token })
    expect(refresh.statusCode).toBe(200)
    const jwt = refresh.json().jwt_token as string

    // And the app "electronic-shop" with the event "number of product views".
    const app = await hg.request('POST', `${M}/app/create`, {
      token: jwt,
      body: { app_name: 'electronic-shop' },
    })
    expect(app.statusCode).toBe(200)
    const { api_token: apiToken, app_code: appCode } = app.json()
    expect(apiToken).toEqual(expect.any(String))
    const event = await hg.request('POST', `${M}/app/create_event/${appCode}`, {
      token: jwt,
      body: PRODUCT_VIEWS,
    })
    expect(event.statusCode).toBe(200)
    expect(event.json()).toMatchObject({
      app_code: appCode,
      event_code: expect.stringMatching(/^number_of_product_views-/),
    })
    const eventCode = event.json().event_code as string

    // When three users' devices send product views with quantities.
    const sent: [string, string, number][] = [
      ['user-a', 'resistor', 5],
      ['user-a', 'resistor', 6],
      ['user-a', 'diode', 235],
      ['user-b', 'transistor', 14],
      ['user-b', 'diode', 1],
      ['user-b', 'diode', 2],
      ['user-c', 'resistor', 11],
      ['user-a', 'transistor', 7],
      ['user-c', 'resistor', 0],
    ]
    for (const [user, product, quantity] of sent) {
      const posted = await hg.request('POST', `${M}/${appCode}`, {
        token: apiToken,
        body: message(user, product, quantity),
      })
      expect(posted.statusCode, posted.body).toBe(200)
    }

    // Then, once projected, the statistics hold one row per user with the sum of quantities per product.
    await hg.settled()
    const stats = await hg.request('GET', `${M}/${appCode}/${eventCode}`, { token: jwt })
    expect(stats.statusCode).toBe(200)
    expect(stats.json()).toEqual(expectedStats(sent))
    expect(stats.json()[0]).toEqual({ user_code: 'user-a', resistor: 11, diode: 235, transistor: 7 })
    expect(Object.keys(stats.json()[0])[0]).toBe('user_code')
  })

  it('counts the events in the hourly rollup of their app: events, distinct users', async () => {
    const { jwt, apiToken, appCode } = await userWithApp()
    const at = Date.UTC(2026, 0, 5, 10, 30)
    const sent = [
      ['u1', 'x', 1],
      ['u2', 'y', 2],
      ['u1', 'y', 3],
    ] as const
    for (const [user, product, quantity] of sent) {
      const posted = await hg.request('POST', `${M}/${appCode}`, {
        token: apiToken,
        body: message(user, product, quantity, { timestamp: at }),
      })
      expect(posted.statusCode).toBe(200)
    }
    await hg.settled()
    const rollup = await hg.request(
      'GET',
      `/v1/sources/${sourceIdOfAppCode(appCode)}/rollups/hourly?from=${at - HOUR}&to=${at + HOUR}`,
      {
        token: jwt,
      },
    )
    expect(rollup.json().rows).toEqual([
      {
        hour: new Date(Date.UTC(2026, 0, 5, 10)).toISOString(),
        name: 'number of product views',
        events: 3,
        subjects: 2,
        sessions: 0,
      },
    ])
  })

  it('limits statistics to whole hours between from and to', async () => {
    const { jwt, apiToken, appCode, eventCode } = await userWithApp()
    const base = Date.UTC(2026, 0, 7)
    const sent: [string, string, number, number][] = [
      ['u1', 'resistor', 1, base + 10 * 60_000],
      ['u1', 'resistor', 10, base + HOUR + 5 * 60_000],
      ['u2', 'diode', 100, base + 2 * HOUR + 59 * 60_000],
      ['u1', 'diode', 1000, base + 3 * HOUR],
    ]
    for (const [user, product, quantity, timestamp] of sent) {
      const posted = await hg.request('POST', `${M}/${appCode}`, {
        token: apiToken,
        body: message(user, product, quantity, { timestamp }),
      })
      expect(posted.statusCode).toBe(200)
    }
    await hg.settled()
    const from = new Date(base + HOUR + 30 * 60_000).toISOString()
    const to = new Date(base + 3 * HOUR).toISOString()
    const stats = await hg.request('GET', `${M}/${appCode}/${eventCode}?from=${from}&to=${to}`, {
      token: jwt,
    })
    expect(stats.statusCode).toBe(200)
    expect(stats.json()).toEqual(
      expectedStats(
        sent.filter(([, , , t]) => t >= base + HOUR && t < base + 3 * HOUR).map(([u, p, q]) => [u, p, q]),
      ),
    )
  })

  it('issues a new API token for GET /auth/<app_code>; earlier tokens stay valid', async () => {
    const { jwt, apiToken, appCode } = await userWithApp()
    const first = await hg.request('GET', `${M}/auth/${appCode}`, { token: jwt })
    const second = await hg.request('GET', `${M}/auth/${appCode}`, { token: jwt })
    expect(first.statusCode).toBe(200)
    expect(first.json().app_code).toBe(appCode)
    expect(first.json().api_token).not.toBe(second.json().api_token)
    for (const token of [apiToken, first.json().api_token, second.json().api_token]) {
      const posted = await hg.request('POST', `${M}/${appCode}`, { token, body: message('u', 'p', 1) })
      expect(posted.statusCode).toBe(200)
    }
    const control = JSON.stringify((await hg.runtime.control.readAll(0, 100_000)).map((r) => r.data))
    expect(control).not.toContain(parseApiToken(first.json().api_token)!.secret)
  })

  it('answers 403 without a valid token and 400 for an app name the user already has', async () => {
    const { jwt } = await userWithApp()
    for (const token of [undefined, 'not-a-jwt']) {
      const response = await hg.request('POST', `${M}/app/create`, {
        ...(token ? { token } : {}),
        body: { app_name: 'x' },
      })
      expect(response.statusCode).toBe(403)
    }
    const again = await hg.request('POST', `${M}/app/create`, { token: jwt, body: { app_name: 'shop' } })
    expect(again.statusCode).toBe(400)
    expect(again.json().error.message).toContain('shop')
    const racing = await Promise.all(
      [1, 2, 3].map(() => hg.request('POST', `${M}/app/create`, { token: jwt, body: { app_name: 'race' } })),
    )
    expect(racing.map((r) => r.statusCode).sort()).toEqual([200, 400, 400])
  })

  it("answers 404 for an unknown app, another user's app and an unknown event code", async () => {
    const owner = await userWithApp()
    const other = await userWithApp()
    const cases = [
      ['GET', `${M}/${randomUUID()}/${owner.eventCode}`],
      ['GET', `${M}/${owner.appCode}/${owner.eventCode}`],
      ['GET', `${M}/${other.appCode}/nope`],
      ['GET', `${M}/auth/${owner.appCode}`],
      ['POST', `${M}/app/create_event/${owner.appCode}`],
    ] as const
    for (const [method, url] of cases) {
      const response = await hg.request(method, url, {
        token: other.jwt,
        ...(method === 'POST' ? { body: PRODUCT_VIEWS } : {}),
      })
      expect(response.statusCode, url).toBe(404)
      expect(response.json().error.code).toBe('NOT_FOUND')
    }
    const mine = await hg.request('GET', `${M}/${owner.appCode}/${owner.eventCode}`, { token: owner.jwt })
    expect(mine.statusCode).toBe(200)
  })

  it('keeps an event code for the same definition and refuses a different one', async () => {
    const { jwt, appCode, eventCode } = await userWithApp()
    const same = await hg.request('POST', `${M}/app/create_event/${appCode}`, {
      token: jwt,
      body: PRODUCT_VIEWS,
    })
    expect(same.json().event_code).toBe(eventCode)
    const changed = await hg.request('POST', `${M}/app/create_event/${appCode}`, {
      token: jwt,
      body: { events: [{ name: 'number of product views', attrs: [{ name: 'quantity', type: 'number' }] }] },
    })
    expect(changed.statusCode).toBe(409)
    const two = await hg.request('POST', `${M}/app/create_event/${appCode}`, {
      token: jwt,
      body: {
        events: [
          { name: 'cart', attrs: [] },
          { name: 'checkout', attrs: [{ name: 'total', type: 'number' }] },
        ],
      },
    })
    expect(two.statusCode).toBe(200)
    expect(two.json().events.map((e: { name: string }) => e.name)).toEqual(['cart', 'checkout'])
    expect(two.json().event_code).toBe(two.json().events[0].event_code)
  })
})

describe('bad input to the Metrica API', () => {
  let app: Awaited<ReturnType<typeof userWithApp>>
  let otherApp: Awaited<ReturnType<typeof userWithApp>>
  beforeAll(async () => {
    app = await userWithApp()
    otherApp = await userWithApp()
  })

  const attrs = (...list: unknown[]) => ({
    user_code: 'u1',
    event_name: 'number of product views',
    attrs: list,
  })
  const product = { name: 'product_name', type: 'string', value: 'diode' }
  const quantity = { name: 'quantity', type: 'integer', value: 2 }

  const messageCases: [
    string,
    () => { body?: unknown; payload?: string; token?: string; url?: string },
    number,
    string,
    string?,
  ][] = [
    [
      'a value of the wrong type',
      () => ({ body: attrs(product, { ...quantity, value: 'two' }) }),
      400,
      'INVALID_REQUEST',
      'attrs[1].value',
    ],
    [
      'a non-integer for an integer',
      () => ({ body: attrs(product, { ...quantity, value: 2.5 }) }),
      400,
      'INVALID_REQUEST',
      'attrs[1].value',
    ],
    [
      'a type other than the definition',
      () => ({ body: attrs(product, { ...quantity, type: 'number' }) }),
      400,
      'EVENT_REJECTED',
      'attrs[1].type',
    ],
    [
      'an unknown attribute',
      () => ({ body: attrs(product, quantity, { name: 'colour', type: 'string', value: 'red' }) }),
      400,
      'EVENT_REJECTED',
      'attrs[2]',
    ],
    [
      'an unknown type',
      () => ({ body: attrs(product, { ...quantity, type: 'float' }) }),
      400,
      'INVALID_REQUEST',
      'attrs[1].type',
    ],
    [
      'an attribute sent twice',
      () => ({ body: attrs(product, quantity, quantity) }),
      400,
      'INVALID_REQUEST',
      'attrs[2].name',
    ],
    ['no user_code', () => ({ body: { event_name: 'x', attrs: [] } }), 400, 'INVALID_REQUEST', 'user_code'],
    [
      'attrs that is not a list',
      () => ({ body: { user_code: 'u', event_name: 'x', attrs: {} } }),
      400,
      'INVALID_REQUEST',
      'attrs',
    ],
    [
      'an unknown field',
      () => ({ body: { ...attrs(product, quantity), colour: 1 } }),
      400,
      'INVALID_REQUEST',
    ],
    ['malformed JSON', () => ({ payload: '{"user_code": ' }), 400, 'MALFORMED_JSON'],
    ['no API token', () => ({ body: attrs(product, quantity), token: '' }), 401, 'UNAUTHENTICATED'],
    [
      'a user token instead of the API token',
      () => ({ body: attrs(product, quantity), token: app.jwt }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      "another app's API token",
      () => ({ body: attrs(product, quantity), token: otherApp.apiToken }),
      403,
      'FORBIDDEN',
    ],
    [
      'an unknown app code',
      () => ({ body: attrs(product, quantity), url: `${M}/${randomUUID()}` }),
      403,
      'FORBIDDEN',
    ],
  ]

  it.each(messageCases)(
    'refuses a device message with %s: a clear 4xx, nothing appended',
    async (_, make, status, code, path) => {
      const before = await hg.runtime.telemetry.head()
      const { token, url, ...request } = make()
      const response = await hg.request('POST', url ?? `${M}/${app.appCode}`, {
        ...(token === '' ? {} : { token: token ?? app.apiToken }),
        ...request,
      })
      expect(response.statusCode, response.body).toBe(status)
      const body = response.json()
      expect(body.error.code).toBe(code)
      expect(body.error.message.length).toBeGreaterThan(10)
      if (path) expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path)
      expect(await hg.runtime.telemetry.head()).toBe(before)
    },
  )

  it('names the attribute and the reason', async () => {
    const unknown = await hg.request('POST', `${M}/${app.appCode}`, {
      token: app.apiToken,
      body: attrs(product, quantity, { name: 'colour', type: 'string', value: 'red' }),
    })
    expect(unknown.json().error.message).toMatch(/"colour" is not an attribute of "number of product views"/)
  })

  it('refuses bad definitions and bad sign-ups with the field and the reason', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', `${M}/app/create_event/${app.appCode}`, { events: [] }, 'events'],
      [
        'POST',
        `${M}/app/create_event/${app.appCode}`,
        { events: [{ name: 'e', attrs: [{ name: 'a', type: 'date' }] }] },
        'events[0].attrs[0].type',
      ],
      [
        'POST',
        `${M}/app/create_event/${app.appCode}`,
        {
          events: [
            {
              name: 'e',
              attrs: [
                { name: 'a', type: 'string' },
                { name: 'a', type: 'integer' },
              ],
            },
          ],
        },
        'events[0].attrs[1].name',
      ],
      [
        'POST',
        `${M}/app/create_event/${app.appCode}`,
        { events: [{ name: 'e' }, { name: 'e' }] },
        'events[1].name',
      ],
      ['POST', `${M}/app/create`, { app_name: '' }, 'app_name'],
      [
        'POST',
        `${M}/auth/signup`,
        { name: 'a', surname: 'b', email: 'nope', password: '12345', phone: '1' },
        'email',
      ],
    ]
    for (const [method, url, body, path] of cases) {
      const before = await hg.runtime.telemetry.head()
      const response = await hg.request(method as 'POST', url, { token: app.jwt, body })
      expect(response.statusCode, url).toBe(400)
      expect(response.json().error.issues.map((i: { path: string }) => i.path)).toContain(path)
      expect(await hg.runtime.telemetry.head()).toBe(before)
    }
  })

  it('never answers a 5xx to malformed requests on any Metrica route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['POST', `${M}/auth/signup`],
      ['POST', `${M}/auth/signin`],
      ['GET', `${M}/auth/refresh`],
      ['GET', `${M}/auth/${app.appCode}`],
      ['POST', `${M}/app/create`],
      ['POST', `${M}/app/create_event/${app.appCode}`],
      ['POST', `${M}/${app.appCode}`],
      ['GET', `${M}/${app.appCode}/${app.eventCode}`],
      ['GET', `${M}/${app.appCode}/${app.eventCode}?from=banana&to=2`],
      ['GET', `${M}/%00/%00`],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '{}',
      '{"attrs":[{"name":"__proto__","type":"string","value":"x"}]}',
      '{"events":[{"name":{}}]}',
    ]
    const authorizations = [undefined, 'Bearer', `Bearer ${app.jwt}`, `Bearer ${app.apiToken}`, 'Token x']
    await expectNoServerErrors(
      hg.runtime.app,
      {
        routes,
        authorizations,
        payloads,
      },
      routes.length,
    )
  })
})
