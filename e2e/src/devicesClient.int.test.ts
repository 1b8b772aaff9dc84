import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectSummaryOf } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Seed 004 as its own clients use it: a device client that knows only the seed's endpoints
 * (users, readings, summaries) and the fleet's API token, and nothing of /v1.
 */

const HOUR = 3600_000
const base = Math.floor(Date.now() / HOUR) * HOUR - 24 * HOUR
const at = (hours: number) => base + hours * HOUR

interface Reading {
  readonly deviceId: string
  readonly timestamp: number
  readonly metrics: Record<string, number>
  /** The user the reading is credited to; null: nobody. */
  readonly user: string | null
}

let hg: TestHourglass
let fleetToken: string
const users: Record<string, string> = {}
/** Every reading the tests had recorded, with the user it should be credited to. */
const recorded: Reading[] = []

const D = '/compat/devices'
const post = (url: string, body?: unknown) =>
  hg.request('POST', `${D}${url}`, { token: fleetToken, ...(body === undefined ? {} : { body }) })
const get = (url: string) => hg.request('GET', `${D}${url}`, { token: fleetToken })

/** Sends a reading as the seed's device does (`?user_id=` when given) and returns the answer. */
const send = (deviceId: string, timestamp: number, metrics: Record<string, number>, userId?: string) =>
  post(`/stats/${deviceId}${userId === undefined ? '' : `?user_id=${userId}`}`, { ...metrics, timestamp })

/** Sends a reading that must be recorded, credited to `user`. */
const record = async (
  deviceId: string,
  timestamp: number,
  metrics: Record<string, number>,
  user: string | null,
  userId?: string,
) => {
  const response = await send(deviceId, timestamp, metrics, userId)
  expect(response.statusCode, response.body).toBe(201)
  expect(response.json().user_id).toBe(user)
  recorded.push({ deviceId, timestamp, metrics, user })
}

const deviceBindings = async (deviceId: string) =>
  (await hg.runtime.control.readAll(0, 100_000))
    .filter((r) => r.type === 'device.bound' && (r.data as { deviceId: string }).deviceId === deviceId)
    .map((r) => r.data as { userId: string | null; effectiveFrom: number })

beforeAll(async () => {
  hg = await startTestHourglass()
  // The fleet's owner sets it up once; its API token is all a device client is given.
  const { token } = await hg.signUp()
  fleetToken = (await hg.createSource(token, 'device')).apiToken
})
afterAll(() => hg?.close())

describe('a seed 004 client (/compat/devices) that knows only the seed', () => {
  it('creates users with username, email and password, as a JSON body or as query parameters', async () => {
    const anna = await post('/users', {
      username: 'anna',
      email: 'anna@example.org',
      password: 'anna-pass-1',
    })
    expect(anna.statusCode, anna.body).toBe(201)
    expect(anna.json()).toEqual({ id: expect.any(String), username: 'anna', email: 'anna@example.org' })
    users.anna = anna.json().id

    const boris = await post('/users?username=boris&email=boris%40example.org&password=boris-pass-1')
    expect(boris.statusCode, boris.body).toBe(201)
    expect(boris.json()).toEqual({ id: expect.any(String), username: 'boris', email: 'boris@example.org' })
    users.boris = boris.json().id

    const head = await hg.runtime.telemetry.head()
    const twice = await post('/users?username=vera', { username: 'vera', password: 'vera-pass-1' })
    expect(twice.statusCode).toBe(400)
    expect(twice.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['username'])
    const unknown = await post('/users?role=admin', { username: 'vera', password: 'vera-pass-1' })
    expect(unknown.statusCode).toBe(400)
    expect(unknown.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['querystring.role'])
    const badEmail = await post('/users', { username: 'vera', email: 'vera', password: 'vera-pass-1' })
    expect(badEmail.statusCode).toBe(400)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })

  it('records the first reading of a device the fleet has never seen: the device joins it, owned by nobody', async () => {
    await record('meter-1', at(1), { x: 1.5, y: 20 }, null)
    await record('meter-1', at(2), { x: -2.25, y: 21 }, null)
    await record('meter-1', at(3), { x: 4, y: 19.5 }, null)
    expect(await deviceBindings('meter-1')).toEqual([
      { ...(await deviceBindings('meter-1'))[0], userId: null },
    ])
    await hg.settled()
    const summary = await get('/stats/meter-1/summary')
    expect(summary.statusCode, summary.body).toBe(200)
    expectSummaryOf(summary.json(), recorded, 'meter-1')
  })

  it('binds a new device to the user its first reading names, and credits every later reading to them', async () => {
    await record('meter-2', at(1), { x: 10, y: 1 }, users.anna!, users.anna)
    await record('meter-2', at(2), { x: 12, y: 2 }, users.anna!)
    await record('meter-2', at(3), { x: 11, y: 3 }, users.anna!, users.anna)
    await hg.settled()
    const annas = recorded.filter((r) => r.user === users.anna)
    const summary = await get(`/users/${users.anna}/stats/summary`)
    expect(summary.statusCode, summary.body).toBe(200)
    expectSummaryOf(summary.json(), annas, "anna's devices")
    const ofDevice = await get(`/users/${users.anna}/devices/meter-2/stats/summary`)
    expectSummaryOf(ofDevice.json(), annas, "anna's meter-2")
  })

  it("refuses a reading for another user than the device's owner: a 409, nothing recorded, nobody credited", async () => {
    const head = await hg.runtime.telemetry.head()
    const refused = await send('meter-2', at(4), { x: 99 }, users.boris)
    expect(refused.statusCode, refused.body).toBe(409)
    expect(refused.json().error.code).toBe('DEVICE_OWNED_BY_ANOTHER_USER')
    expect(await hg.runtime.telemetry.head()).toBe(head)
    const unknownUser = await send('meter-9', at(4), { x: 1 }, 'no-such-user')
    expect(unknownUser.statusCode).toBe(404)
    expect(await hg.runtime.telemetry.head()).toBe(head)
    expect((await get('/stats/meter-9/summary')).statusCode).toBe(404)
    await hg.settled()
    expect((await get(`/users/${users.boris}/stats/summary`)).json()).toEqual({})
  })

  it('binds a device nobody owns to the user of a reading from that reading on, never earlier readings', async () => {
    await record('meter-1', at(5), { x: 3, y: 18 }, users.boris!, users.boris)
    await record('meter-1', at(6), { x: 5, y: 17 }, users.boris!)
    // A late reading from before the binding stays nobody's, and cannot be claimed by a user.
    await record('meter-1', at(4), { x: 7, y: 16 }, null)
    const claimed = await send('meter-1', at(4) + 1, { x: 8 }, users.boris)
    expect(claimed.statusCode, claimed.body).toBe(409)
    expect(claimed.json().error.code).toBe('BINDING_OUT_OF_ORDER')
    await hg.settled()
    expectSummaryOf(
      (await get(`/users/${users.boris}/stats/summary`)).json(),
      recorded.filter((r) => r.user === users.boris),
      "boris's devices",
    )
    expectSummaryOf(
      (await get('/stats/meter-1/summary')).json(),
      recorded.filter((r) => r.deviceId === 'meter-1'),
      'meter-1 under any owner',
    )
  })

  it('lets concurrent first readings of a new device create one device and credit only the user it is bound to', async () => {
    // Given twelve first readings of one new device at once, half naming anna and half boris.
    const racing = Array.from({ length: 12 }, (_, i) => ({
      user: i % 2 === 0 ? users.anna! : users.boris!,
      timestamp: at(8) + i * 1000,
      metrics: { x: i + 0.5 },
    }))
    const answers = await Promise.all(racing.map((r) => send('meter-race', r.timestamp, r.metrics, r.user)))
    // Then the device was bound once, and only the readings of that user were recorded.
    const bindings = await deviceBindings('meter-race')
    expect(bindings).toHaveLength(1)
    const owner = bindings[0]!.userId
    expect([users.anna, users.boris]).toContain(owner)
    for (const [i, answer] of answers.entries()) {
      if (racing[i]!.user === owner) {
        expect(answer.statusCode, answer.body).toBe(201)
        expect(answer.json().user_id).toBe(owner)
        recorded.push({ deviceId: 'meter-race', ...racing[i]!, user: owner })
      } else {
        expect(answer.statusCode, answer.body).toBe(409)
      }
    }
    // And twelve first readings naming one user all count, under one binding.
    const same = await Promise.all(
      Array.from({ length: 12 }, (_, i) => send('meter-race-2', at(9) + i * 1000, { x: i }, users.anna)),
    )
    expect(same.map((a) => a.statusCode)).toEqual(Array(12).fill(201))
    expect(await deviceBindings('meter-race-2')).toHaveLength(1)
    for (let i = 0; i < 12; i++)
      recorded.push({
        deviceId: 'meter-race-2',
        timestamp: at(9) + i * 1000,
        metrics: { x: i },
        user: users.anna!,
      })
    await hg.settled()
    for (const deviceId of ['meter-race', 'meter-race-2']) {
      expectSummaryOf(
        (await get(`/stats/${deviceId}/summary`)).json(),
        recorded.filter((r) => r.deviceId === deviceId),
        deviceId,
      )
    }
    for (const name of ['anna', 'boris']) {
      expectSummaryOf(
        (await get(`/users/${users[name]}/stats/summary`)).json(),
        recorded.filter((r) => r.user === users[name]),
        `${name}'s devices after the race`,
      )
    }
  })

  it("answers a period given as the original's start_date and end_date, with its field names", async () => {
    const from = at(2)
    const to = at(5) + 1000
    const naive = (ms: number) => new Date(ms).toISOString().slice(0, 19)
    const selected = recorded.filter(
      (r) => r.deviceId === 'meter-1' && r.timestamp >= from && r.timestamp < to,
    )
    for (const query of [
      `start_date=${naive(from)}&end_date=${naive(to)}.000`,
      `start_date=${new Date(from).toISOString()}&end_date=${to}`,
      `from=${from}&end_date=${new Date(to).toISOString()}`,
    ]) {
      const response = await get(`/stats/meter-1/summary?${query}`)
      expect(response.statusCode, response.body).toBe(200)
      const summary = response.json()
      expectSummaryOf(summary, selected, query)
      for (const figures of Object.values(summary) as Record<string, number>[]) {
        expect(figures.min_value).toBe(figures.min)
        expect(figures.max_value).toBe(figures.max)
        expect(Object.keys(figures)).toEqual(expect.arrayContaining(['count', 'sum', 'median']))
      }
    }
    const day = new Date(base).toISOString().slice(0, 10)
    const wholeDay = await get(`/users/${users.anna}/stats/summary?start_date=${day}`)
    expectSummaryOf(
      wholeDay.json(),
      recorded.filter((r) => r.user === users.anna && r.timestamp >= Date.parse(`${day}T00:00:00Z`)),
      'anna from a date',
    )
  })

  it('refuses a period parameter it does not know, or one bound given twice, naming it', async () => {
    const cases: [string, string][] = [
      ['?period=week', 'querystring.period'],
      ['?start=2026-01-01', 'querystring.start'],
      [`?start_date=${new Date(at(1)).toISOString()}&from=${at(1)}`, 'querystring.start_date'],
      [`?end_date=${at(3)}&to=${at(3)}`, 'querystring.end_date'],
      [`?start_date=${at(5)}&end_date=${at(3)}`, 'querystring.start_date'],
    ]
    for (const [query, path] of cases) {
      for (const url of [
        `/stats/meter-1/summary${query}`,
        `/users/${users.anna}/stats/summary${query}`,
        `/users/${users.anna}/devices/meter-2/stats/summary${query}`,
      ]) {
        const response = await get(url)
        expect(response.statusCode, url).toBe(400)
        expect(response.json().error.issues.map((i: { path: string }) => i.path)).toContain(path)
      }
    }
    const head = await hg.runtime.telemetry.head()
    const reading = await post('/stats/meter-1?user=anna', { x: 1 })
    expect(reading.statusCode).toBe(400)
    expect(reading.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['querystring.user'])
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })
})
