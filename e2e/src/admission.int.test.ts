import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { createUserTokens } from '@hourglass/control'
import { peopleStreams } from '@hourglass/schemas'
import { localSecret } from '@hourglass/scripts'
import type { HTTPMethods, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compatPerson, STORE_STATS } from './harness/featureFlows.ts'
import { seedReceipt } from './harness/receiptFixtures.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/** Limits low enough to reach in a test; every request names the client address it comes from. */
const LIMITS = {
  HOURGLASS_RATE_LIMIT_SIGN_IN_PER_ADDRESS: '5',
  HOURGLASS_RATE_LIMIT_FAILURES_PER_ACCOUNT: '3',
  HOURGLASS_REQUEST_TIMEOUT_MS: '1000',
  HOURGLASS_HEADERS_TIMEOUT_MS: '1000',
  HOURGLASS_SESSIONS_PER_SOURCE: '3',
  HOURGLASS_TOKENS_PER_SOURCE: '2',
}

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass(LIMITS)
})
afterAll(() => hg?.close())

let addresses = 0
/** A client address of its own, so that the test's own sign-ups stay within the per-address limit. */
const newAddress = () => `10.0.${Math.floor(++addresses / 250)}.${(addresses % 250) + 1}`

const send = (
  method: HTTPMethods,
  url: string,
  options: { from?: string; authorization?: string; body?: unknown; payload?: string } = {},
): Promise<LightMyRequestResponse> =>
  hg.runtime.app.inject({
    method,
    url,
    remoteAddress: options.from ?? newAddress(),
    headers: {
      ...(options.authorization ? { authorization: options.authorization } : {}),
      ...(options.body !== undefined || options.payload !== undefined
        ? { 'content-type': 'application/json' }
        : {}),
    },
    ...(options.payload !== undefined
      ? { payload: options.payload }
      : options.body !== undefined
        ? { payload: JSON.stringify(options.body) }
        : {}),
  })

const bearer = (token: string) => `Bearer ${token}`

async function signUp() {
  const email = `admission-${randomUUID()}@example.com`
  const password = 'correct horse battery'
  const response = await send('POST', '/v1/auth/signup', { body: { email, password, name: 'Admission' } })
  expect(response.statusCode, response.body).toBe(201)
  const { token, accountId } = response.json() as { token: string; accountId: string }
  return { email, password, token, accountId }
}

async function createSource(token: string, kind: string) {
  const response = await send('POST', '/v1/sources', {
    authorization: bearer(token),
    body: { kind, name: `${kind}-${randomUUID()}` },
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json() as { id: string; apiToken: string }
}

/** A store of a new account, with its API key and an access token. */
async function createStore(name: string) {
  const { token } = await signUp()
  const created = await send('POST', '/v1/stores', { authorization: bearer(token), body: { name } })
  const { id: storeId, number, apiKey } = created.json() as { id: string; number: number; apiKey: string }
  const auth = await send('POST', '/v1/stores/auth', { body: { apiKey } })
  return { token, storeId, number, apiKey, accessToken: auth.json().accessToken as string }
}

const HOUR = 3600_000
const base = Date.UTC(2026, 3, 1)

describe('a sign-in flood', () => {
  it('is answered 429 with Retry-After, while every event sent meanwhile is acknowledged and projected', async () => {
    // Given an account that the flood aims at, and a producer of another account.
    const victim = await signUp()
    const producer = await signUp()
    const source = await createSource(producer.token, 'app')

    // When 16 clients, each from its own address, send wrong passwords for the account while
    // the producer sends single events.
    const flood = Array.from({ length: 16 }, async (_, client) => {
      const from = `172.16.0.${client + 1}`
      const answers: LightMyRequestResponse[] = []
      for (let attempt = 0; attempt < 8; attempt++) {
        answers.push(
          await send('POST', '/v1/auth/signin', {
            from,
            body: { email: victim.email, password: `wrong guess ${client}-${attempt}` },
          }),
        )
      }
      return answers
    })
    const sent = Array.from({ length: 40 }, (_, i) => ({
      id: `flooded-${i}`,
      name: i % 2 ? 'view' : 'buy',
      timestamp: base + (i % 4) * HOUR,
      subject: `user-${i % 5}`,
    }))
    const acknowledged = (async () => {
      const answers: LightMyRequestResponse[] = []
      for (const event of sent) {
        answers.push(
          await send('POST', '/v1/events', {
            authorization: bearer(source.apiToken),
            body: { events: [event] },
          }),
        )
      }
      return answers
    })()
    const floodAnswers = (await Promise.all(flood)).flat()
    const eventAnswers = await acknowledged

    // Then the flood got 429s, each with a Retry-After and the stable code, and no 5xx.
    const statuses = floodAnswers.map((answer) => answer.statusCode)
    const limited = floodAnswers.filter((answer) => answer.statusCode === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(statuses.every((status) => status === 401 || status === 429)).toBe(true)
    for (const answer of limited) {
      expect(answer.json().error.code).toBe('RATE_LIMITED')
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0)
    }
    // And the account's failures were counted: only the free ones were checked at all.
    expect(statuses.filter((status) => status === 401)).toHaveLength(3)
    // And every event was acknowledged, once each.
    expect(eventAnswers.map((answer) => [answer.statusCode, answer.json().accepted])).toEqual(
      sent.map(() => [200, 1]),
    )
    // And every event was projected.
    await hg.settled()
    const rollup = await send(
      'GET',
      `/v1/sources/${source.id}/rollups/hourly?from=${base}&to=${base + 4 * HOUR}`,
      {
        authorization: bearer(producer.token),
      },
    )
    const rows = rollup.json().rows as { name: string; events: number }[]
    expect(rows.reduce((total, row) => total + row.events, 0)).toBe(sent.length)
  })

  it('holds the account back even from a new address with the right password, until its wait is over', async () => {
    // Given an account with as many failed sign-ins as it may have.
    const account = await signUp()
    for (let i = 0; i < 3; i++) {
      const failed = await send('POST', '/v1/auth/signin', {
        body: { email: account.email, password: `nope ${i}` },
      })
      expect(failed.statusCode).toBe(401)
    }
    // When the right password comes from an address never seen, through a seed's sign-in route.
    const answer = await send('POST', '/compat/metrica/auth/signin', {
      body: { email: account.email, password: account.password },
    })
    // Then it waits its turn: the account's failures count across addresses and sign-in routes.
    expect(answer.statusCode).toBe(429)
    expect(answer.json().error.code).toBe('RATE_LIMITED')
    const retryAfter = Number(answer.headers['retry-after'])
    expect(retryAfter).toBeGreaterThan(0)
    expect(retryAfter).toBeLessThanOrEqual(60)
    // And another account is not held back by it.
    const other = await signUp()
    const signedIn = await send('POST', '/v1/auth/signin', {
      body: { email: other.email, password: other.password },
    })
    expect(signedIn.statusCode).toBe(200)
  })

  it('limits sign-in, sign-up and token requests per client address, whichever accounts they name', async () => {
    const from = newAddress()
    const answers: number[] = []
    for (let i = 0; i < 7; i++) {
      const path = i % 2 ? '/v1/auth/signin' : '/compat/receipts/auth/login/'
      const body =
        i % 2
          ? { email: `nobody-${i}@example.com`, password: 'x' }
          : { username: `nobody-${i}`, password: 'x' }
      answers.push((await send('POST', path, { from, body })).statusCode)
    }
    expect(answers).toEqual([401, 401, 401, 401, 401, 429, 429])
  })
})

describe('people of one store written concurrently', () => {
  it('are all registered, none refused for contention', async () => {
    // Given a store and its access token.
    const { storeId, accessToken } = await createStore('Busy shop')

    // When 16 people are registered at once.
    const people = Array.from({ length: 16 }, (_, i) => ({
      email: `busy-${i}@example.org`,
      username: `busy${i}`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
      phone: `+7916000${String(i).padStart(4, '0')}`,
    }))
    const answers = await Promise.all(
      people.map((person) =>
        send('POST', '/v1/people', { authorization: bearer(accessToken), body: person }),
      ),
    )

    // Then every one is created, and the store knows exactly those 16.
    expect(answers.map((answer) => answer.statusCode)).toEqual(people.map(() => 201))
    const directory = await hg.runtime.control.readStream(peopleStreams.storePeople(storeId))
    expect(directory.map((record) => record.type)).toEqual(people.map(() => 'person.registered'))
    for (const person of people) {
      const found = await send('GET', `/v1/people?email=${encodeURIComponent(person.email)}`, {
        authorization: bearer(accessToken),
      })
      expect(found.json()).toMatchObject(person)
    }
  })
})

describe('what one source may hold', () => {
  it('is bounded: past its quota of sessions and tokens it is answered 429 QUOTA_EXCEEDED, and what it holds still works', async () => {
    const { token } = await signUp()
    const app = await createSource(token, 'app')
    const sessions: string[] = []
    for (let i = 0; i < 3; i++) {
      const started = await send('POST', '/v1/sessions', { authorization: bearer(app.apiToken), body: {} })
      expect(started.statusCode, started.body).toBe(201)
      sessions.push(started.json().id)
    }
    const past = await send('POST', '/v1/sessions', { authorization: bearer(app.apiToken), body: {} })
    expect(past.statusCode, past.body).toBe(429)
    expect(past.json().error.code).toBe('QUOTA_EXCEEDED')
    const listed = await send('GET', `/v1/sources/${app.id}/sessions`, { authorization: bearer(token) })
    expect(listed.json().sessions.map((s: { id: string }) => s.id)).toEqual(sessions)

    const issued: string[] = []
    for (let i = 0; i < 2; i++) {
      const created = await send('POST', `/v1/sources/${app.id}/tokens`, { authorization: bearer(token) })
      expect(created.statusCode, created.body).toBe(201)
      issued.push(created.json().apiToken)
    }
    const oneMore = await send('POST', `/v1/sources/${app.id}/tokens`, { authorization: bearer(token) })
    expect(oneMore.statusCode, oneMore.body).toBe(429)
    expect(oneMore.json().error.code).toBe('QUOTA_EXCEEDED')
    // Another source has its own quota, and every token issued still sends.
    const other = await createSource(token, 'app')
    expect(
      (await send('POST', '/v1/sessions', { authorization: bearer(other.apiToken), body: {} })).statusCode,
    ).toBe(201)
    for (const apiToken of [app.apiToken, ...issued]) {
      const sent = await send('POST', '/v1/events', {
        authorization: bearer(apiToken),
        body: {
          events: [{ name: 'quota-check', timestamp: new Date().toISOString(), session: sessions[0] }],
        },
      })
      expect(sent.statusCode, sent.body).toBe(200)
    }
  })
})

describe('a switched-off store', () => {
  it('sends nothing with any credential, and sends again once switched on', async () => {
    // Given a store with its API key, an access token and a person, switched off by its owner.
    const { token, storeId, number, apiKey, accessToken } = await createStore('Closed shop')
    const person = await send('POST', `${STORE_STATS}/api/user`, {
      authorization: bearer(accessToken),
      body: compatPerson('closed'),
    })
    expect(person.statusCode).toBe(201)
    const userId = person.json().id as string
    const off = await send('PATCH', `/v1/stores/${storeId}`, {
      authorization: bearer(token),
      body: { isActive: false },
    })
    expect(off.json().isActive).toBe(false)
    const head = await hg.runtime.telemetry.head()

    // When it sends with each credential it has.
    const event = { events: [{ name: 'visit', timestamp: base }] }
    const receipt = { ...seedReceipt(), transaction_id: `closed-${randomUUID()}` }
    const attempts: [string, Promise<LightMyRequestResponse>][] = [
      ['API key: events', send('POST', '/v1/events', { authorization: bearer(apiKey), body: event })],
      ['API key: receipts', send('POST', '/v1/receipts', { authorization: bearer(apiKey), body: receipt })],
      [
        'API key: seed receipts',
        send('POST', '/compat/receipts/api/checks/', { authorization: bearer(apiKey), body: receipt }),
      ],
      ['API key: session', send('POST', '/v1/sessions', { authorization: bearer(apiKey) })],
      ['API key: access token', send('POST', '/v1/stores/auth', { body: { apiKey } })],
      ['API key: seed access token', send('POST', `${STORE_STATS}/api/auth`, { body: { api_key: apiKey } })],
      [
        'access token: person',
        send('POST', '/v1/people', {
          authorization: bearer(accessToken),
          body: {
            email: 'x@example.org',
            username: 'x',
            firstName: 'X',
            lastName: 'Y',
            phone: '+79160000000',
          },
        }),
      ],
      [
        'access token: store event',
        send('POST', '/v1/store-events', {
          authorization: bearer(accessToken),
          body: { type: 'visit', userId },
        }),
      ],
      [
        'access token: seed event',
        send('POST', `${STORE_STATS}/api/event`, {
          authorization: bearer(accessToken),
          body: { type: 'visit', store_id: number, user_id: userId },
        }),
      ],
      [
        "owner's token: session",
        send('POST', `/v1/sources/${storeId}/sessions`, { authorization: bearer(token) }),
      ],
    ]
    const answers = await Promise.all(
      attempts.map(async ([what, answer]) => [
        what,
        (await answer).statusCode,
        (await answer).json().error?.code,
      ]),
    )

    // Then each is refused as forbidden, and the log holds nothing more.
    expect(answers).toEqual(attempts.map(([what]) => [what, 403, 'FORBIDDEN']))
    expect(await hg.runtime.telemetry.head()).toBe(head)

    // And once switched on again, its key sends again.
    await send('PATCH', `/v1/stores/${storeId}`, { authorization: bearer(token), body: { isActive: true } })
    const again = await send('POST', '/v1/events', { authorization: bearer(apiKey), body: event })
    expect(again.statusCode).toBe(200)
  })
})

let listening: Promise<string> | undefined
/** A raw connection to the server (listening from the first call on): what it received once the server closed it. */
async function rawExchange(written: string): Promise<string> {
  listening ??= hg.runtime.app.listen({ host: '127.0.0.1', port: 0 })
  const url = new URL(await listening)
  const socket = connect(Number(url.port), url.hostname)
  const received: Buffer[] = []
  socket.on('data', (chunk: Buffer) => received.push(chunk))
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  await new Promise<void>((resolve) => socket.on('connect', () => resolve()))
  socket.write(written)
  // The test's own timeout bounds the wait.
  await closed
  return Buffer.concat(received).toString('latin1')
}

describe('a slow client', () => {
  it('that declares a body and sends only part of it is answered 408 and its connection closed', async () => {
    // When a request declares 1,000 bytes and sends 10, then nothing more.
    const answer = await rawExchange(
      'POST /v1/auth/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"email":"',
    )
    // Then the server answers 408 and closes the connection.
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'REQUEST_TIMEOUT', message: expect.any(String) },
    })
  })

  it('that sends part of its headers and then nothing is cut off', async () => {
    // When a request sends its first header lines and never ends them.
    const answer = await rawExchange('POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: appl')
    // Then the connection is closed, with a 408 or nothing at all (the route was never known).
    expect(answer === '' || /^HTTP\/1\.1 408 /.test(answer), answer).toBe(true)
  })
})

describe('an unauthenticated caller', () => {
  const garbage = '{"not json'
  const id = randomUUID()
  /** Every route that needs a credential, with a query and parameters that do not validate. */
  const routes: [HTTPMethods, string][] = [
    ['POST', '/v1/auth/refresh'],
    ['POST', '/v1/sources'],
    ['GET', '/v1/sources'],
    ['POST', '/v1/events?partial=maybe'],
    ['POST', '/v1/stores'],
    ['GET', '/v1/stores'],
    ['PATCH', '/v1/stores/x'],
    ['POST', '/v1/people'],
    ['GET', '/v1/people?email=not-an-email'],
    ['GET', '/v1/people/not-a-uuid'],
    ['PATCH', '/v1/people/not-a-uuid'],
    ['DELETE', '/v1/people/not-a-uuid'],
    ['DELETE', '/v1/people/not-a-uuid/events'],
    ['POST', '/v1/store-events'],
    ['POST', '/v1/receipts'],
    ['GET', '/v1/account/analysts'],
    ['PUT', '/v1/account/analysts/%20'],
    ['DELETE', '/v1/account/analysts/%20'],
    ['DELETE', `/v1/sources/${'x'.repeat(65)}`],
    ['GET', `/v1/sources/${'x'.repeat(65)}/tokens`],
    ['DELETE', `/v1/sources/${id}/tokens/not-a-token-id`],
    ['GET', `/v1/sources/${id}/settings`],
    ['PUT', `/v1/sources/${id}/settings`],
    ['POST', `/v1/sources/${id}/tokens`],
    ['POST', `/v1/sources/${id}/event-definitions`],
    ['GET', `/v1/sources/${id}/event-definitions`],
    ['POST', `/v1/sources/${id}/sessions`],
    ['GET', `/v1/sources/${id}/sessions?limit=-1`],
    ['POST', '/v1/sessions'],
    ['POST', `/v1/sources/${id}/device-users`],
    ['PUT', `/v1/sources/${id}/devices/%00/owner`],
    ['GET', `/v1/sources/${id}/devices/%00`],
    ['POST', '/v1/readings?partial=maybe'],
    ['GET', `/v1/sources/${id}/rollups/hourly?from=banana`],
    ['GET', `/v1/sources/${id}/events?limit=-1`],
    ['GET', `/v1/sources/${id}/events/%00`],
    ['GET', `/v1/sources/${id}/freshness`],
    ['GET', `/v1/sources/${id}/overview?from=banana`],
    ['GET', `/v1/sources/${id}/store-stats/daily?from=banana`],
    ['GET', `/v1/sources/${id}/device-series?from=banana`],
    ['GET', `/v1/sources/${id}/devices/%00/summary?from=banana`],
    ['GET', `/v1/sources/${id}/device-users/x/summary?from=banana`],
    ['GET', `/v1/sources/${id}/event-definitions/x/user-stats?limit=-1`],
    ['GET', '/v1/store-stats/amount/x?from=banana'],
    ['GET', '/v1/store-stats/avg-time/x?from=banana'],
    ['GET', '/v1/store-events?limit=-1'],
    ['GET', '/v1/receipts?limit=-1'],
    ['GET', '/v1/receipts/analytics?from=banana'],
    ['GET', '/v1/receipts/places?from=banana'],
    ['GET', '/v1/receipts/runs?from=banana'],
    ['GET', `${STORE_STATS}/api/user/not-an-email`],
    ['POST', `${STORE_STATS}/api/user`],
    ['PATCH', `${STORE_STATS}/api/user`],
    ['DELETE', `${STORE_STATS}/api/user/not-a-uuid`],
    ['POST', `${STORE_STATS}/api/event`],
    ['DELETE', `${STORE_STATS}/api/event/not-a-uuid`],
    ['GET', `${STORE_STATS}/api/store`],
    ['GET', `${STORE_STATS}/api/event/amount/x?from=banana`],
    ['GET', `${STORE_STATS}/api/event/avg-time/x?from=banana`],
    ['GET', `${STORE_STATS}/api/event/store-events-amount/x`],
    ['POST', '/compat/receipts/api/checks/'],
    ['POST', '/compat/receipts/api/add_checks/'],
    ['GET', '/compat/receipts/api/analytics/?from=banana'],
    ['GET', '/compat/receipts/api/analytics/x/?from=banana'],
    ['GET', '/compat/receipts/api/places/?account='],
    ['POST', '/compat/devices/users'],
    ['POST', '/compat/devices/stats/%00'],
    ['GET', '/compat/devices/stats/%00/summary?from=banana'],
    ['GET', '/compat/devices/users/x/stats/summary?from=banana'],
    ['GET', '/compat/devices/users/x/devices/%00/stats/summary?from=banana'],
    ['POST', '/compat/metrica/x'],
    ['POST', '/compat/the-eye/sessions/'],
    ['GET', '/compat/the-eye/sessions/'],
    ['POST', '/compat/the-eye/events/'],
    ['GET', '/compat/the-eye/events/?page=-1'],
    ['GET', '/compat/the-eye/event_detail/x/'],
    ['POST', '/v1/admin/projections/x/replay'],
    ['GET', '/v1/admin/status'],
  ]
  /** Metrica's own answer to a user without a valid token is 403 (seed 000). */
  const metricaUserRoutes: [HTTPMethods, string][] = [
    ['GET', '/compat/metrica/auth/refresh'],
    ['GET', '/compat/metrica/auth/x'],
    ['POST', '/compat/metrica/app/create'],
    ['POST', '/compat/metrica/app/create_event/x'],
    ['GET', '/compat/metrica/x/y?from=banana'],
  ]
  const ask = (method: HTTPMethods, path: string, authorization?: string) =>
    send(method, path, {
      ...(authorization ? { authorization } : {}),
      ...(method === 'GET' ? {} : { payload: garbage }),
    })

  const statusesOf = (list: [HTTPMethods, string][], authorization?: string) =>
    Promise.all(
      list.map(async ([method, path]) => [method, path, (await ask(method, path, authorization)).statusCode]),
    )

  it('gets 401, not 400, whatever it sends: authentication comes before validation', async () => {
    for (const authorization of [undefined, 'Bearer not-a-token', 'Basic Zm9vOmJhcg==']) {
      expect(await statusesOf(routes, authorization)).toEqual(
        routes.map(([method, path]) => [method, path, 401]),
      )
      expect(await statusesOf(metricaUserRoutes, authorization)).toEqual(
        metricaUserRoutes.map(([method, path]) => [method, path, 403]),
      )
    }
  })

  it('with a well-signed token of an account that does not exist is refused like a forged one', async () => {
    // Given a token signed with the server's own key for an account it has never had.
    const tokens = createUserTokens({
      secret: new TextEncoder().encode(localSecret(hg.config.dataDir, 'jwt-key')),
      issuer: 'hourglass',
      audience: 'hourglass',
      ttlSeconds: 600,
    })
    const token = await tokens.issue({ accountId: randomUUID() })
    // When it is used to read, to write and to refresh itself.
    const answers = await Promise.all([
      send('GET', '/v1/sources', { authorization: bearer(token) }),
      send('POST', '/v1/sources', { authorization: bearer(token), body: { kind: 'app', name: 'ghost' } }),
      send('POST', '/v1/auth/refresh', { authorization: bearer(token) }),
      send('GET', `/compat/the-eye/sessions/`, { authorization: `Token ${token}` }),
    ])
    // Then each is a 401, and the account's own token still works.
    expect(answers.map((answer) => [answer.statusCode, answer.json().error.code])).toEqual(
      answers.map(() => [401, 'UNAUTHENTICATED']),
    )
    const real = await signUp()
    expect((await send('GET', '/v1/sources', { authorization: bearer(real.token) })).statusCode).toBe(200)
  })

  it('with a token of an account since deleted is refused, whichever kind of token it is', async () => {
    // Given an account with a source, and a The Eye token from its e-mail and password.
    const { token, email, password } = await signUp()
    const app = await createSource(token, 'app')
    const eye = await send('POST', '/compat/the-eye/api-token-auth/', { body: { username: email, password } })
    expect(eye.statusCode, eye.body).toBe(200)
    const eyeToken = `Token ${eye.json().token}`
    expect((await send('GET', '/compat/the-eye/sessions/', { authorization: eyeToken })).statusCode).toBe(200)
    // When the account is deleted.
    expect((await send('DELETE', '/v1/account', { authorization: bearer(token) })).statusCode).toBe(204)
    // Then its account token, its source's API token and its The Eye token are each a 401.
    const answers = [
      await send('GET', '/v1/sources', { authorization: bearer(token) }),
      await send('POST', '/v1/sessions', { authorization: bearer(app.apiToken), body: {} }),
      await send('GET', '/compat/the-eye/sessions/', { authorization: eyeToken }),
    ]
    expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401, 401])
  })
})
