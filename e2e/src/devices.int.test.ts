import { seededRandom } from '@hourglass/projections/seededRandom'
import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectSummaryOf } from './harness/featureFlows.ts'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

const HOUR = 3600_000
const MINUTE = 60_000
/** Three days ago, on the hour: readings span the two days after it. */
const base = Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR
/** When device d3 passes from alice to bob: not on an hour, so hours are cut by it. */
const rebindAt = base + 20 * HOUR + 17 * MINUTE + 123

/** The same readings on every run. */
const random = seededRandom(20261122)
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits

interface Reading {
  readonly id: string
  readonly deviceId: string
  readonly timestamp: number
  readonly metrics: Record<string, number>
}

type UserName = 'alice' | 'bob' | 'carol'

/** Who owns each device from when, as the test binds them: the model the summaries are checked against. */
const ownership: Record<string, { from: number; user: UserName | null }[]> = {
  d1: [{ from: base, user: 'alice' }],
  d2: [{ from: base, user: 'bob' }],
  d3: [
    { from: base, user: 'alice' },
    { from: rebindAt, user: 'bob' },
  ],
  d4: [{ from: base, user: 'carol' }],
  d5: [{ from: base, user: null }],
}
const ownerOf = (reading: Reading): UserName | null => {
  let owner: UserName | null = null
  for (const binding of ownership[reading.deviceId]!)
    if (binding.from <= reading.timestamp) owner = binding.user
  return owner
}

/** 48 hours of readings for each device, 3 to 6 an hour, plus two taken before any binding. */
const readings: Reading[] = []
for (const deviceId of Object.keys(ownership)) {
  for (let hour = 0; hour < 48; hour++) {
    for (let k = 0; k < 3 + ((hour + deviceId.charCodeAt(1)) % 4); k++) {
      const metrics: Record<string, number> = { temperature: round(-5 + 30 * random(), 2) }
      if (random() < 0.8) metrics.humidity = round(20 + 60 * random(), 1)
      if (deviceId === 'd4') metrics.pressure = round(990 + 30 * random(), 3)
      readings.push({
        id: `${deviceId}-${hour}-${k}`,
        deviceId,
        timestamp: base + hour * HOUR + Math.floor(random() * HOUR),
        metrics,
      })
    }
  }
}
readings.push(
  { id: 'd1-early-1', deviceId: 'd1', timestamp: base - 30 * MINUTE, metrics: { temperature: 12.5 } },
  { id: 'd1-early-2', deviceId: 'd1', timestamp: base - 2 * HOUR, metrics: { temperature: -3.25 } },
)

const shuffled = <T>(items: readonly T[]) => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}
/** Readings taken before the re-bind that arrive only after it, d3's among them. */
const late = new Set(
  readings.filter((r) => r.timestamp < rebindAt && random() < 0.2 && r.deviceId !== 'd5').map((r) => r.id),
)
const firstWave = shuffled(readings.filter((r) => r.timestamp < rebindAt && !late.has(r.id)))
const secondWave = shuffled(readings.filter((r) => r.timestamp >= rebindAt || late.has(r.id)))

let hg: TestHourglass
let token: string
let fleet: { id: string; apiToken: string }
const users = {} as Record<UserName, string>

const post = (body: unknown, apiToken = fleet.apiToken) =>
  hg.request('POST', '/v1/readings', { token: apiToken, body })
const sendAll = async (batch: readonly Reading[]) => {
  for (let i = 0; i < batch.length; i += 250) {
    const response = await post({ readings: batch.slice(i, i + 250) })
    expect(response.statusCode, response.body).toBe(200)
  }
}
const bind = (deviceId: string, userId: string | null, effectiveFrom?: number) =>
  hg.request('PUT', `/v1/sources/${fleet.id}/devices/${deviceId}/owner`, {
    token,
    body: { userId, ...(effectiveFrom === undefined ? {} : { effectiveFrom }) },
  })

beforeAll(async () => {
  hg = await startTestHourglass()
  token = (await hg.signUp()).token
  fleet = await hg.createSource(token, 'device')
  for (const name of ['alice', 'bob', 'carol'] as const) {
    const response = await hg.request('POST', `/v1/sources/${fleet.id}/device-users`, {
      token,
      body: { name, password: `${name} correct horse` },
    })
    expect(response.statusCode, response.body).toBe(201)
    users[name] = response.json().id
  }
  for (const [deviceId, [first]] of Object.entries(ownership)) {
    const response = await bind(deviceId, first!.user && users[first!.user], first!.from)
    expect(response.statusCode, response.body).toBe(200)
  }
})
afterAll(() => hg?.close())

const periods: { label: string; from?: number; to?: number; query: string }[] = [
  { label: 'all time', query: '' },
  {
    label: 'two whole days (ISO dates-times)',
    from: base,
    to: base + 48 * HOUR,
    query: `from=${new Date(base).toISOString()}&to=${new Date(base + 48 * HOUR).toISOString()}`,
  },
  ...[
    ['cutting hours at both ends', base + 5 * HOUR + 13 * MINUTE + 7, base + 30 * HOUR + 47 * MINUTE],
    ['inside one hour', base + 7 * HOUR + 10 * MINUTE, base + 7 * HOUR + 50 * MINUTE],
    ['across one hour boundary', base + 9 * HOUR + 40 * MINUTE, base + 10 * HOUR + 20 * MINUTE],
    ['from the re-bind on', rebindAt, undefined],
    ['up to the re-bind', undefined, rebindAt],
    ['empty (from = to)', base + HOUR, base + HOUR],
  ].map(([label, from, to]) => ({
    label: label as string,
    ...(from === undefined ? {} : { from: from as number }),
    ...(to === undefined ? {} : { to: to as number }),
    query: [from === undefined ? '' : `from=${from}`, to === undefined ? '' : `to=${to}`]
      .filter(Boolean)
      .join('&'),
  })),
]

const inPeriod = (period: { from?: number; to?: number }) => (reading: Reading) =>
  (period.from === undefined || reading.timestamp >= period.from) &&
  (period.to === undefined || reading.timestamp < period.to)

describe('device readings: ingest, binding and summaries', () => {
  it('accepts readings in batches, late ones included, across a re-bind, and counts a re-sent reading once', async () => {
    await sendAll(firstWave)
    const rebind = await bind('d3', users.bob, rebindAt)
    expect(rebind.statusCode, rebind.body).toBe(200)
    expect(rebind.json()).toMatchObject({
      id: 'd3',
      owner: users.bob,
      bindings: [
        { userId: users.alice, effectiveFrom: new Date(base).toISOString() },
        { userId: users.bob, effectiveFrom: new Date(rebindAt).toISOString() },
      ],
    })
    await sendAll(secondWave)
    const again = await post({ readings: firstWave.slice(0, 100) })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 100, rejected: 0 })
    await hg.settled()
  })

  it('stamps each reading with the owner of its device at its own time, late readings too', async () => {
    const lateD3 = readings.filter((r) => r.deviceId === 'd3' && late.has(r.id))
    expect(lateD3.length).toBeGreaterThan(3)
    const response = await hg.request(
      'GET',
      `/v1/sources/${fleet.id}/device-users/${users.alice}/devices/d3/summary`,
      { token },
    )
    expect(response.statusCode).toBe(200)
    const beforeRebind = readings.filter((r) => r.deviceId === 'd3' && r.timestamp < rebindAt).length
    expect(response.json().metrics.temperature.count).toBe(beforeRebind)
  })

  const scopes: { label: string; path: () => string; select: (reading: Reading) => boolean }[] = [
    ...Object.keys(ownership).map((deviceId) => ({
      label: `device ${deviceId}`,
      path: () => `devices/${deviceId}/summary`,
      select: (r: Reading) => r.deviceId === deviceId,
    })),
    ...(['alice', 'bob', 'carol'] as const).map((user) => ({
      label: `user ${user}`,
      path: () => `device-users/${users[user]}/summary`,
      select: (r: Reading) => ownerOf(r) === user,
    })),
    ...(
      [
        ['alice', 'd3'],
        ['bob', 'd3'],
        ['alice', 'd1'],
        ['bob', 'd1'],
        ['carol', 'd4'],
      ] as const
    ).map(([user, deviceId]) => ({
      label: `${user}'s ${deviceId}`,
      path: () => `device-users/${users[user]}/devices/${deviceId}/summary`,
      select: (r: Reading) => r.deviceId === deviceId && ownerOf(r) === user,
    })),
  ]

  it.each(scopes)(
    'summarises $label over every period, each figure as computed from the raw readings',
    async ({ label, path, select }) => {
      for (const period of periods) {
        const response = await hg.request(
          'GET',
          `/v1/sources/${fleet.id}/${path()}${period.query ? `?${period.query}` : ''}`,
          { token },
        )
        expect(response.statusCode, response.body).toBe(200)
        const body = response.json()
        expect(body.period).toEqual({
          from: period.from === undefined ? null : new Date(period.from).toISOString(),
          to: period.to === undefined ? null : new Date(period.to).toISOString(),
        })
        expectSummaryOf(
          body.metrics,
          readings.filter(select).filter(inPeriod(period)),
          `${label}, ${period.label}`,
        )
      }
    },
  )

  it('lets one of two concurrent re-binds of a device win, and loses neither silently', async () => {
    expect((await bind('d6', users.alice)).statusCode).toBe(200)
    const answers = await Promise.all([bind('d6', users.bob), bind('d6', users.carol)])
    const statuses = answers.map((a) => a.statusCode).sort()
    expect([
      [200, 409],
      [200, 200],
    ]).toContainEqual(statuses)
    for (const answer of answers.filter((a) => a.statusCode === 409))
      expect(answer.json().error.code).toBe('CONFLICT')
    const device = (await hg.request('GET', `/v1/sources/${fleet.id}/devices/d6`, { token })).json()
    expect(device.bindings).toHaveLength(1 + statuses.filter((s) => s === 200).length)
    expect([users.bob, users.carol]).toContain(device.owner)
  })

  it('keeps bindings in time order and changes nothing when binding a device to its owner', async () => {
    const head = await hg.runtime.telemetry.head()
    const same = await bind('d1', users.alice)
    expect(same.statusCode).toBe(200)
    expect(same.json().bindings).toHaveLength(1)
    expect(await hg.runtime.telemetry.head()).toBe(head)
    const backdated = await bind('d3', users.carol, rebindAt - HOUR)
    expect(backdated.statusCode).toBe(409)
    expect(backdated.json().error.code).toBe('BINDING_OUT_OF_ORDER')
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })

  it('rebuilds the same summaries from the log after a replay of the projection', async () => {
    const url = `/v1/sources/${fleet.id}/device-users/${users.bob}/summary?from=${base}&to=${base + 30 * HOUR + 5}`
    const before = (await hg.request('GET', url, { token })).json().metrics
    await replayEmbedded(hg.runtime, 'device-readings')
    const after = (await hg.request('GET', url, { token })).json().metrics
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort())
    for (const metric of Object.keys(before)) {
      const { count, min, max } = before[metric]
      expect(after[metric]).toMatchObject({ count, min, max })
    }
    expectSummaryOf(
      after,
      readings.filter((r) => ownerOf(r) === 'bob').filter(inPeriod({ from: base, to: base + 30 * HOUR + 5 })),
      'bob after replay',
    )
  })
})

describe('bad input to the device API', () => {
  const reading = (extra: Record<string, unknown> = {}) => ({
    deviceId: 'd1',
    timestamp: base + HOUR,
    metrics: { temperature: 20 },
    ...extra,
  })

  const writes: [
    string,
    () => { body?: unknown; payload?: string; token?: string },
    number,
    string,
    string?,
  ][] = [
    ['an empty readings array', () => ({ body: { readings: [] } }), 400, 'INVALID_REQUEST', 'readings'],
    ['no readings field', () => ({ body: {} }), 400, 'INVALID_REQUEST', 'readings'],
    [
      'an unknown device',
      () => ({ body: { readings: [reading({ deviceId: 'nope' })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].deviceId',
    ],
    [
      'a device id with a slash',
      () => ({ body: { readings: [reading({ deviceId: 'a/b' })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].deviceId',
    ],
    [
      'NaN (not JSON)',
      () => ({ payload: `{"readings":[{"deviceId":"d1","timestamp":${base},"metrics":{"t":NaN}}]}` }),
      400,
      'MALFORMED_JSON',
    ],
    [
      'Infinity (1e999)',
      () => ({ payload: `{"readings":[{"deviceId":"d1","timestamp":${base},"metrics":{"t":1e999}}]}` }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.t',
    ],
    [
      'a number as a string',
      () => ({ body: { readings: [reading({ metrics: { temperature: '21.5' } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.temperature',
    ],
    [
      'a boolean metric',
      () => ({ body: { readings: [reading({ metrics: { on: true } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.on',
    ],
    [
      'a null metric',
      () => ({ body: { readings: [reading({ metrics: { t: null } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.t',
    ],
    [
      'a nested metric',
      () => ({ body: { readings: [reading({ metrics: { t: { v: 1 } } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.t',
    ],
    [
      'a reading without metrics',
      () => ({ body: { readings: [reading({ metrics: {} })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics',
    ],
    [
      'a metric name with a space',
      () => ({ body: { readings: [reading({ metrics: { 'air temp': 1 } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.air temp',
    ],
    [
      'a value beyond 1e30',
      () => ({ body: { readings: [reading({ metrics: { t: 2e30 } })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].metrics.t',
    ],
    [
      'a malformed timestamp',
      () => ({ body: { readings: [reading({ timestamp: '2026-02-31T10:00' })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0].timestamp',
    ],
    [
      'an unknown field',
      () => ({ body: { readings: [reading({ colour: 'red' })] } }),
      400,
      'READINGS_REJECTED',
      'readings[0]',
    ],
    [
      'one bad reading among good ones',
      () => ({ body: { readings: [reading(), reading({ metrics: { t: 'x' } }), reading()] } }),
      400,
      'READINGS_REJECTED',
      'readings[1].metrics.t',
    ],
    [
      'the account token instead of the fleet token',
      () => ({ body: { readings: [reading()] }, token }),
      401,
      'UNAUTHENTICATED',
    ],
  ]

  it.each(writes)('refuses %s with a clear 4xx and appends nothing', async (_, make, status, code, path) => {
    const head = await hg.runtime.telemetry.head()
    const request = make()
    const response = await hg.request('POST', '/v1/readings', {
      token: request.token ?? fleet.apiToken,
      ...(request.payload !== undefined ? { payload: request.payload } : { body: request.body }),
    })
    expect(response.statusCode, response.body).toBe(status)
    const body = response.json()
    expect(body.error.code).toBe(code)
    expect(body.error.message.length).toBeGreaterThan(10)
    if (path) expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })

  it('refuses readings sent with the token of a source that is not a device fleet', async () => {
    const app = await hg.createSource(token, 'app')
    const head = await hg.runtime.telemetry.head()
    const response = await post({ readings: [reading()] }, app.apiToken)
    expect(response.statusCode).toBe(403)
    expect(response.json().error.message).toMatch(/device/)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })

  const summaries: [string, () => string, number, string, string | undefined][] = [
    ['an unknown device', () => `devices/nope/summary`, 404, 'NOT_FOUND', undefined],
    ['an unknown user', () => `device-users/nobody/summary`, 404, 'NOT_FOUND', undefined],
    [
      'an unknown user of a known device',
      () => `device-users/nobody/devices/d1/summary`,
      404,
      'NOT_FOUND',
      undefined,
    ],
    [
      'a known user of an unknown device',
      () => `device-users/${users.alice}/devices/nope/summary`,
      404,
      'NOT_FOUND',
      undefined,
    ],
    [
      'from after to',
      () => `devices/d1/summary?from=2026-11-22&to=2026-11-21`,
      400,
      'INVALID_REQUEST',
      'querystring.from',
    ],
    [
      'a malformed date',
      () => `devices/d1/summary?from=yesterday`,
      400,
      'INVALID_REQUEST',
      'querystring.from',
    ],
    [
      'an impossible date',
      () => `devices/d1/summary?to=2026-02-31`,
      400,
      'INVALID_REQUEST',
      'querystring.to',
    ],
    [
      'a date-time without a zone',
      () => `devices/d1/summary?to=2026-02-20T10:00`,
      400,
      'INVALID_REQUEST',
      'querystring.to',
    ],
  ]

  it.each(summaries)('answers a summary of %s with a clear 4xx', async (_, path, status, code, field) => {
    const response = await hg.request('GET', `/v1/sources/${fleet.id}/${path()}`, { token })
    expect(response.statusCode, response.body).toBe(status)
    const body = response.json()
    expect(body.error.code).toBe(code)
    expect(body.error.message.length).toBeGreaterThan(10)
    if (field) expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(field)
  })

  it('keeps fleets to their account and users and bindings to fleets', async () => {
    const other = await hg.signUp()
    const head = await hg.runtime.telemetry.head()
    const foreign = await hg.request('GET', `/v1/sources/${fleet.id}/devices/d1/summary`, {
      token: other.token,
    })
    expect(foreign.statusCode).toBe(404)
    const foreignBind = await hg.request('PUT', `/v1/sources/${fleet.id}/devices/d1/owner`, {
      token: other.token,
      body: { userId: null },
    })
    expect(foreignBind.statusCode).toBe(404)
    const otherFleet = await hg.createSource(other.token, 'device')
    const strangerBind = await hg.request('PUT', `/v1/sources/${otherFleet.id}/devices/x1/owner`, {
      token: other.token,
      body: { userId: users.alice },
    })
    expect(strangerBind.statusCode).toBe(404)
    expect(strangerBind.json().error.message).toMatch(/device user/)
    const appSource = await hg.createSource(token, 'app')
    const notAFleet = await hg.request('POST', `/v1/sources/${appSource.id}/device-users`, {
      token,
      body: { name: 'dave', password: 'correct horse' },
    })
    expect(notAFleet.statusCode).toBe(409)
    expect(notAFleet.json().error.code).toBe('NOT_A_DEVICE_FLEET')
    const taken = await hg.request('POST', `/v1/sources/${fleet.id}/device-users`, {
      token,
      body: { name: 'alice', password: 'correct horse' },
    })
    expect(taken.statusCode).toBe(409)
    const short = await hg.request('POST', `/v1/sources/${fleet.id}/device-users`, {
      token,
      body: { name: 'erin', password: 'short' },
    })
    expect(short.statusCode).toBe(400)
    expect(short.json().error.issues[0].path).toBe('password')
    // Only the second fleet's sources were created: no user, no binding.
    const appended = (await hg.runtime.control.readAll(head, 100)).map((r) => r.type)
    expect(appended).toEqual(['source.created', 'source.created'])
  })

  it('answers no 5xx to a barrage of malformed requests on every device route', async () => {
    const routes: ['GET' | 'POST' | 'PUT', string][] = [
      ['POST', '/v1/readings'],
      ['POST', `/v1/sources/${fleet.id}/device-users`],
      ['PUT', `/v1/sources/${fleet.id}/devices/d1/owner`],
      ['PUT', `/v1/sources/${fleet.id}/devices/%2F/owner`],
      ['GET', `/v1/sources/${fleet.id}/devices/d1`],
      ['GET', `/v1/sources/${fleet.id}/devices/d1/summary`],
      ['GET', `/v1/sources/${fleet.id}/device-users/${users.alice}/summary`],
      ['GET', `/v1/sources/${fleet.id}/device-users/${users.alice}/devices/d1/summary`],
      ['GET', `/v1/sources/nope/devices/d1/summary`],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '{}',
      '{"readings":null}',
      '{"readings":[null]}',
      '{"userId":7}',
      '1e999',
    ]
    const queries = ['', '?from=banana', '?from=-5', '?to=99999999999999', '?from=1&to=0', '?from=1900-01-01']
    const authorizations = [
      undefined,
      'Bearer x',
      `Bearer ${token}`,
      `Bearer ${fleet.apiToken}`,
      'Basic Og==',
    ]
    await expectNoServerErrors(hg.runtime.app, { routes, queries, authorizations, payloads }, 500)
  })
})
