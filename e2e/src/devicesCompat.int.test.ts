import { DEVICE_READING } from '@hourglass/schemas'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectSummaryOf } from './harness/featureFlows.ts'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

const HOUR = 3600_000
const MINUTE = 60_000
const base = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR
const rebindAt = base + 11 * HOUR + 41 * MINUTE + 7

let seed = 4004
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}
const round = (value: number) => Math.round(value * 1000) / 1000

interface Reading {
  deviceId: string
  timestamp: number
  metrics: Record<string, number>
}
type UserName = 'ivan' | 'olga'

const ownership: Record<string, { from: number; user: UserName }[]> = {
  'sensor-1': [{ from: base, user: 'ivan' }],
  'sensor-2': [{ from: base, user: 'olga' }],
  'sensor-3': [
    { from: base, user: 'ivan' },
    { from: rebindAt, user: 'olga' },
  ],
}
const ownerOf = (reading: Reading) => {
  let owner: UserName | null = null
  for (const binding of ownership[reading.deviceId]!)
    if (binding.from <= reading.timestamp) owner = binding.user
  return owner
}

/** 24 hours of seed-004 readings (x, y, z) for each device, 2 to 4 an hour. */
const readings: Reading[] = []
for (const deviceId of Object.keys(ownership)) {
  for (let hour = 0; hour < 24; hour++) {
    for (let k = 0; k < 2 + ((hour * 7 + deviceId.length) % 3); k++) {
      readings.push({
        deviceId,
        timestamp: base + hour * HOUR + Math.floor(random() * HOUR),
        metrics: { x: round(random() * 100 - 50), y: round(random() * 10), z: round(-random() * 5) },
      })
    }
  }
}
const before = readings.filter((r) => r.timestamp < rebindAt)
/** sensor-3's readings from before the re-bind that arrive after it. */
const late = before.filter((r) => r.deviceId === 'sensor-3' && random() < 0.5)
const onTime = before.filter((r) => !late.includes(r))
const after = readings.filter((r) => r.timestamp >= rebindAt)

let hg: TestHourglass
let token: string
let fleet: { id: string; apiToken: string }
const users = {} as Record<UserName, string>
const passwords: Record<UserName, string> = { ivan: 'ivan-secret-42', olga: 'olga-secret-42' }
const basic = (user: UserName, password = passwords[user]) =>
  `Basic ${Buffer.from(`${users[user]}:${password}`).toString('base64')}`

const postReading = (deviceId: string, body: unknown, apiToken = fleet.apiToken) =>
  hg.request('POST', `/compat/devices/stats/${deviceId}`, { token: apiToken, body })
const sendAll = async (list: readonly Reading[]) => {
  for (const [i, reading] of list.entries()) {
    // The seed's flat body; times as ISO strings and as epoch ms, alternately.
    const timestamp = i % 2 ? new Date(reading.timestamp).toISOString() : reading.timestamp
    const response = await postReading(reading.deviceId, { ...reading.metrics, timestamp })
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json().user_id).toBe(users[ownerOf(reading)!])
  }
}
const bind = (deviceId: string, user: UserName, effectiveFrom: number) =>
  hg.request('PUT', `/v1/sources/${fleet.id}/devices/${deviceId}/owner`, {
    token,
    body: { userId: users[user], effectiveFrom },
  })

beforeAll(async () => {
  hg = await startTestHourglass()
  token = (await hg.signUp()).token
  fleet = await hg.createSource(token, 'device')
})
afterAll(() => hg?.close())

describe('seed 004 compatibility (/compat/devices)', () => {
  it('creates users with the fleet token and stores only a scrypt hash of their passwords', async () => {
    for (const name of ['ivan', 'olga'] as const) {
      const response = await hg.request('POST', '/compat/devices/users', {
        token: fleet.apiToken,
        body: { username: name, password: passwords[name] },
      })
      expect(response.statusCode, response.body).toBe(201)
      expect(response.json()).toEqual({ id: expect.any(String), username: name })
      users[name] = response.json().id
    }
    const records = await hg.runtime.control.readAll(0, 1000)
    const registered = records.filter((r) => r.type === 'device-user.registered')
    expect(registered).toHaveLength(2)
    for (const record of registered) {
      const { passwordHash } = record.data as { passwordHash: string }
      expect(passwordHash).toMatch(/^scrypt\$/)
      expect(JSON.stringify(record.data)).not.toContain('secret-42')
    }
    for (const [deviceId, [first]] of Object.entries(ownership)) {
      expect((await bind(deviceId, first!.user, first!.from)).statusCode).toBe(200)
    }
  })

  it('records readings per device, late ones keeping the owner they had when taken', async () => {
    await sendAll(onTime)
    expect((await bind('sensor-3', 'olga', rebindAt)).statusCode).toBe(200)
    await sendAll([...after, ...late])
    const resent = await postReading('sensor-1', { id: 'once', x: 1, timestamp: base + 30 * MINUTE })
    const again = await postReading('sensor-1', { id: 'once', x: 1, timestamp: base + 30 * MINUTE })
    expect(resent.statusCode).toBe(201)
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({ id: 'once', status: 'duplicate' })
    readings.push({ deviceId: 'sensor-1', timestamp: base + 30 * MINUTE, metrics: { x: 1 } })
    await hg.settled()
  })

  const periods = [
    { label: 'all time', query: '', select: () => true },
    {
      label: 'a period cutting hours',
      query: `?from=${new Date(base + 3 * HOUR + 25 * MINUTE).toISOString()}&to=${base + 17 * HOUR + 5 * MINUTE}`,
      select: (r: Reading) =>
        r.timestamp >= base + 3 * HOUR + 25 * MINUTE && r.timestamp < base + 17 * HOUR + 5 * MINUTE,
    },
  ]

  it.each(periods)(
    'answers the three summaries over $label as computed from the readings sent',
    async ({ label, query, select }) => {
      for (const deviceId of Object.keys(ownership)) {
        const response = await hg.request('GET', `/compat/devices/stats/${deviceId}/summary${query}`, {
          token: fleet.apiToken,
        })
        expect(response.statusCode, response.body).toBe(200)
        expectSummaryOf(
          response.json(),
          readings.filter((r) => r.deviceId === deviceId && select(r)),
          `${deviceId}, ${label}`,
        )
      }
      for (const user of ['ivan', 'olga'] as const) {
        const response = await hg.request(
          'GET',
          `/compat/devices/users/${users[user]}/stats/summary${query}`,
          {
            token: fleet.apiToken,
          },
        )
        expect(response.statusCode, response.body).toBe(200)
        expectSummaryOf(
          response.json(),
          readings.filter((r) => ownerOf(r) === user && select(r)),
          `${user}, ${label}`,
        )
        for (const deviceId of Object.keys(ownership)) {
          const one = await hg.request(
            'GET',
            `/compat/devices/users/${users[user]}/devices/${deviceId}/stats/summary${query}`,
            { token: fleet.apiToken },
          )
          expect(one.statusCode, one.body).toBe(200)
          expectSummaryOf(
            one.json(),
            readings.filter((r) => r.deviceId === deviceId && ownerOf(r) === user && select(r)),
            `${user}'s ${deviceId}, ${label}`,
          )
        }
      }
    },
  )

  it("lets a user read their own summaries with their own credentials, and no one else's", async () => {
    const own = await hg.request('GET', `/compat/devices/users/${users.ivan}/stats/summary`, {
      headers: { authorization: basic('ivan') },
    })
    expect(own.statusCode).toBe(200)
    expect(own.json().x.count).toBe(readings.filter((r) => ownerOf(r) === 'ivan').length)
    const ownDevice = await hg.request(
      'GET',
      `/compat/devices/users/${users.olga}/devices/sensor-3/stats/summary`,
      {
        headers: { authorization: basic('olga') },
      },
    )
    expect(ownDevice.statusCode).toBe(200)
    const others = await hg.request('GET', `/compat/devices/users/${users.olga}/stats/summary`, {
      headers: { authorization: basic('ivan') },
    })
    expect(others.statusCode).toBe(403)
    const wrong = await hg.request('GET', `/compat/devices/users/${users.ivan}/stats/summary`, {
      headers: { authorization: basic('ivan', 'guess-guess') },
    })
    expect(wrong.statusCode).toBe(401)
    const deviceWide = await hg.request('GET', '/compat/devices/stats/sensor-1/summary', {
      headers: { authorization: basic('ivan') },
    })
    expect(deviceWide.statusCode).toBe(401)
    const anonymous = await hg.request('GET', `/compat/devices/users/${users.ivan}/stats/summary`)
    expect(anonymous.statusCode).toBe(401)
  })

  const bad: [
    string,
    () => { method: 'GET' | 'POST'; url: string; body?: unknown; payload?: string; token?: string },
    number,
    string,
    string?,
  ][] = [
    [
      'a new device with an unknown user',
      () => ({ method: 'POST', url: '/stats/nope?user_id=nobody', body: { x: 1 } }),
      404,
      'NOT_FOUND',
    ],
    [
      'a string metric',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: { x: 'one' } }),
      400,
      'INVALID_REQUEST',
      'x',
    ],
    [
      'Infinity (1e999)',
      () => ({ method: 'POST', url: '/stats/sensor-1', payload: '{"x":1e999}' }),
      400,
      'INVALID_REQUEST',
      'x',
    ],
    [
      'NaN (not JSON)',
      () => ({ method: 'POST', url: '/stats/sensor-1', payload: '{"x":NaN}' }),
      400,
      'MALFORMED_JSON',
    ],
    [
      'an empty reading',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: {} }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a reading with only a timestamp',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: { timestamp: base } }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'a malformed timestamp',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: { x: 1, timestamp: 'yesterday' } }),
      400,
      'INVALID_REQUEST',
      'timestamp',
    ],
    [
      'a bad metric name',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: { 'x y': 1 } }),
      400,
      'INVALID_REQUEST',
      'x y',
    ],
    [
      'a body that is an array',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: [1, 2] }),
      400,
      'INVALID_REQUEST',
    ],
    [
      'the account token',
      () => ({ method: 'POST', url: '/stats/sensor-1', body: { x: 1 }, token }),
      401,
      'UNAUTHENTICATED',
    ],
    [
      'a user without a password',
      () => ({ method: 'POST', url: '/users', body: { username: 'petr' } }),
      400,
      'INVALID_REQUEST',
      'password',
    ],
    [
      'a taken username',
      () => ({ method: 'POST', url: '/users', body: { username: 'ivan', password: 'another password' } }),
      409,
      'CONFLICT',
    ],
    ['an unknown user', () => ({ method: 'GET', url: '/users/nobody/stats/summary' }), 404, 'NOT_FOUND'],
    [
      'an unknown device of a user',
      () => ({ method: 'GET', url: `/users/${users.ivan}/devices/nope/stats/summary` }),
      404,
      'NOT_FOUND',
    ],
    [
      'a summary of an unknown device',
      () => ({ method: 'GET', url: '/stats/nope/summary' }),
      404,
      'NOT_FOUND',
    ],
    [
      'from after to',
      () => ({ method: 'GET', url: '/stats/sensor-1/summary?from=2026-03-02&to=2026-03-01' }),
      400,
      'INVALID_REQUEST',
      'querystring.from',
    ],
    [
      'a malformed date',
      () => ({ method: 'GET', url: `/users/${users.ivan}/stats/summary?to=31.12.2025` }),
      400,
      'INVALID_REQUEST',
      'querystring.to',
    ],
  ]

  it.each(bad)('refuses %s with a clear 4xx and appends nothing', async (_, make, status, code, path) => {
    const head = await hg.runtime.telemetry.head()
    const request = make()
    const response = await hg.request(request.method, `/compat/devices${request.url}`, {
      token: request.token ?? fleet.apiToken,
      ...(request.payload !== undefined
        ? { payload: request.payload }
        : request.body !== undefined
          ? { body: request.body }
          : {}),
    })
    expect(response.statusCode, response.body).toBe(status)
    const body = response.json()
    expect(body.error.code).toBe(code)
    expect(body.error.message.length).toBeGreaterThan(10)
    if (path) expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })

  it('documents every device route, native and compat, with a summary at /docs', async () => {
    const docs = await hg.request('GET', '/docs/json')
    expect(docs.statusCode).toBe(200)
    const paths = docs.json().paths as Record<string, Record<string, { summary?: string }>>
    const expected: [string, string][] = [
      ['/v1/sources/{id}/device-users', 'post'],
      ['/v1/sources/{id}/devices/{deviceId}/owner', 'put'],
      ['/v1/sources/{id}/devices/{deviceId}', 'get'],
      ['/v1/readings', 'post'],
      ['/v1/sources/{id}/devices/{deviceId}/summary', 'get'],
      ['/v1/sources/{id}/device-users/{userId}/summary', 'get'],
      ['/v1/sources/{id}/device-users/{userId}/devices/{deviceId}/summary', 'get'],
      ['/compat/devices/users', 'post'],
      ['/compat/devices/stats/{device_id}', 'post'],
      ['/compat/devices/stats/{device_id}/summary', 'get'],
      ['/compat/devices/users/{user_id}/stats/summary', 'get'],
      ['/compat/devices/users/{user_id}/devices/{device_id}/stats/summary', 'get'],
    ]
    for (const [path, method] of expected)
      expect(paths[path]?.[method]?.summary, `${method} ${path}`).toBeTruthy()
  })

  it('answers no 5xx to a barrage of malformed requests on every compat route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['POST', '/compat/devices/users'],
      ['POST', '/compat/devices/stats/sensor-1'],
      ['POST', '/compat/devices/stats/%00'],
      ['GET', '/compat/devices/stats/sensor-1/summary'],
      ['GET', `/compat/devices/users/${users.ivan}/stats/summary`],
      ['GET', `/compat/devices/users/${users.ivan}/devices/sensor-3/stats/summary`],
      ['GET', '/compat/devices/users/%FF/stats/summary'],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '{}',
      '"x"',
      '{"x":null}',
      '{"timestamp":-1,"x":1}',
      '{"__proto__":{"x":1}}',
    ]
    const queries = ['', '?from=banana', '?from=1&to=0', '?to=99999999999999', '?from=2026-02-29']
    const authorizations = [
      undefined,
      'Bearer x',
      `Bearer ${token}`,
      `Bearer ${fleet.apiToken}`,
      'Basic Og==',
      'Basic !!!',
      `Basic ${Buffer.from(`${'u'.repeat(300)}:p`).toString('base64')}`,
    ]
    await expectNoServerErrors(hg.runtime.app, { routes, queries, authorizations, payloads }, 300)
  })

  it('refuses readings and users from a source that is not a device fleet', async () => {
    const app = await hg.createSource(token, 'app')
    const head = await hg.runtime.telemetry.head()
    expect((await postReading('sensor-1', { x: 1 }, app.apiToken)).statusCode).toBe(403)
    const user = await hg.request('POST', '/compat/devices/users', {
      token: app.apiToken,
      body: { username: 'x', password: 'correct horse' },
    })
    expect(user.statusCode).toBe(403)
    expect(await hg.runtime.telemetry.head()).toBe(head)
    const projected = (await hg.runtime.telemetry.readPartition(0, 0, 10_000)).filter(
      (r) => r.type === DEVICE_READING,
    )
    expect(projected).toHaveLength(readings.length)
  })
})
