import { join } from 'node:path'
import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  STORE_STATS as C,
  createStore as createStoreVia,
  expectStoreStatistics,
  filesUnder,
  compatPerson as person,
  type StoreEventSent,
  type StoreHandle,
  storeEventOf,
  warehouseText,
} from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

const day0 = Date.UTC(2026, 9, 5)

const createStore = (adminToken: string, name: string) => createStoreVia(hg.api, adminToken, name)

describe('store user statistics (seed 001)', () => {
  let admin: string
  let store: StoreHandle
  let other: StoreHandle
  const ids: Record<string, string> = {}
  /** What the test sent, to compute every expected figure independently. */
  const sent: StoreEventSent[] = []

  beforeAll(async () => {
    admin = (await hg.signUp()).token
    store = await createStore(admin, 'Shop One')
    other = await createStore(admin, 'Shop Two')
  })

  it('lists the stores for the admin, with integer ids', async () => {
    const response = await hg.request('GET', `${C}/api/store`, { token: admin })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([
      { id: store.number, name: 'Shop One', is_active: true },
      { id: other.number, name: 'Shop Two', is_active: true },
    ])
  })

  it('registers people, finds them by e-mail, updates them, and keeps e-mails unique per store', async () => {
    for (const tag of ['ann', 'bob', 'cyd']) {
      const response = await hg.request('POST', `${C}/api/user`, { token: store.token, body: person(tag) })
      expect(response.statusCode).toBe(201)
      const body = response.json()
      expect(body).toMatchObject({ ...person(tag), store_id: store.number })
      ids[tag] = body.id
      const found = await hg.request('GET', `${C}/api/user/${encodeURIComponent(person(tag).email)}`, {
        token: store.token,
      })
      expect(found.json()).toEqual({ id: body.id })
    }
    const duplicate = await hg.request('POST', `${C}/api/user`, { token: store.token, body: person('ann') })
    expect(duplicate.statusCode).toBe(409)
    // The same e-mail in another store is another person.
    const elsewhere = await hg.request('POST', `${C}/api/user`, { token: other.token, body: person('ann') })
    expect(elsewhere.statusCode).toBe(201)
    ids.annElsewhere = elsewhere.json().id

    const patched = await hg.request('PATCH', `${C}/api/user`, {
      token: store.token,
      body: { ...person('bob'), username: 'bobby', store_id: store.number },
    })
    expect(patched.statusCode).toBe(201)
    expect(patched.json()).toEqual({ message: 'User successfully updated' })
    const bob = await hg.request('GET', `/v1/people/${ids.bob}`, { token: store.token })
    expect(bob.json()).toMatchObject({ username: 'bobby', email: person('bob').email })
  })

  it('records events and answers daily amounts and events per user, newest day first', async () => {
    for (let i = 0; i < 60; i++) {
      const event = storeEventOf(i, { ids, day0, days: 4 })
      const response = await hg.request('POST', '/v1/store-events', { token: store.token, body: event.body })
      expect(response.statusCode).toBe(201)
      sent.push(event.sent)
    }
    // The seed's own endpoint records "now".
    const compat = await hg.request('POST', `${C}/api/event`, {
      token: store.token,
      body: { type: 'signup', store_id: store.number, user_id: ids.cyd, data: { source: 'ad' } },
    })
    expect(compat.statusCode).toBe(201)
    expect(compat.json()).toMatchObject({
      type: 'signup',
      store_id: store.number,
      user_id: ids.cyd,
      data: { source: 'ad' },
    })
    expect(typeof compat.json().id).toBe('number')
    await hg.settled()
    await expectStatistics()
  })

  const expectStatistics = () =>
    expectStoreStatistics(hg.api, store, sent, { types: ['page_view', 'checkout'], before: '2026-11-01' })

  it('never lets one store read or write the people and events of another', async () => {
    const headBefore = await hg.runtime.telemetry.head()
    const readOther = await hg.request('GET', `/v1/people/${ids.annElsewhere}`, { token: store.token })
    expect(readOther.statusCode).toBe(404)
    const byEmail = await hg.request('GET', `${C}/api/user/${encodeURIComponent(person('bob').email)}`, {
      token: other.token,
    })
    expect(byEmail.statusCode).toBe(404)
    const writeOther = await hg.request('POST', `${C}/api/event`, {
      token: other.token,
      body: { type: 'x', store_id: other.number, user_id: ids.ann, data: {} },
    })
    expect(writeOther.statusCode).toBe(404)
    const wrongStoreId = await hg.request('POST', `${C}/api/event`, {
      token: other.token,
      body: { type: 'x', store_id: store.number, user_id: ids.annElsewhere, data: {} },
    })
    expect(wrongStoreId.statusCode).toBe(403)
    const eraseOther = await hg.request('DELETE', `${C}/api/user/${ids.ann}`, { token: other.token })
    expect(eraseOther.statusCode).toBe(404)
    const statsOther = await hg.request('GET', `${C}/api/event/store-events-amount/${store.number}`, {
      token: other.token,
    })
    expect(statsOther.statusCode).toBe(404)
    const eventsOther = await hg.request('GET', `/v1/store-events?userId=${ids.ann}`, { token: other.token })
    expect(eventsOther.json().events).toEqual([])
    expect(await hg.runtime.telemetry.head()).toBe(headBefore)
  })

  it("erases a person's events on request, says how many, and recomputes every day they touched", async () => {
    const bobEvents = sent.filter((e) => e.person === 'bob').length
    const response = await hg.request('DELETE', `${C}/api/event/${ids.bob}`, { token: store.token })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ message: `${bobEvents} events were deleted` })
    sent.splice(0, sent.length, ...sent.filter((e) => e.person !== 'bob'))
    await expectStatistics()
    // Bob stays, and his new events count.
    const bob = await hg.request('GET', `/v1/people/${ids.bob}`, { token: store.token })
    expect(bob.statusCode).toBe(200)
    const events = await hg.request('GET', `/v1/store-events?userId=${ids.bob}`, { token: store.token })
    expect(events.json().events).toEqual([])
  })

  it('erases a person: gone from every answer, personal fields unreadable, the log only appended to', async () => {
    // Telemetry about the person through the generic events API, with their id as the subject.
    const hour = Date.UTC(2026, 9, 6, 15)
    const telemetry = [ids.ann, ids.ann, ids.cyd].map((subject, i) => ({
      name: 'visit',
      timestamp: hour + i * 1000,
      subject,
    }))
    const posted = await hg.request('POST', '/v1/events', {
      token: store.apiKey,
      body: { events: telemetry },
    })
    expect(posted.statusCode).toBe(200)
    await hg.settled()
    const rollup = async () =>
      (
        await hg.request('GET', `/v1/sources/${store.id}/rollups/hourly?from=${hour}&to=${hour + 3600_000}`, {
          token: admin,
        })
      ).json().rows
    expect(await rollup()).toEqual([
      { hour: new Date(hour).toISOString(), name: 'visit', events: 3, subjects: 2, sessions: 0 },
    ])

    const headBefore = await hg.runtime.telemetry.head()
    /** Every record below the head of both kinds, in the log's one order of positions. */
    const logUpTo = async (head: number) =>
      JSON.stringify(
        [
          ...(await hg.runtime.telemetry.readPartition(0, 0, head)),
          ...(await hg.runtime.control.readAll(0, head)),
        ]
          .filter((record) => record.position < head)
          .sort((a, b) => a.position - b.position),
      )
    const logBefore = await logUpTo(headBefore)
    const annEvents = sent.filter((e) => e.person === 'ann').length
    const native = await hg.request('DELETE', `/v1/people/${ids.ann}`, { token: store.token })
    expect(native.statusCode).toBe(200)
    expect(native.json()).toEqual({ erasedEvents: annEvents })
    sent.splice(0, sent.length, ...sent.filter((e) => e.person !== 'ann'))
    await expectStatistics()

    expect(
      (
        await hg.request('GET', `${C}/api/user/${encodeURIComponent(person('ann').email)}`, {
          token: store.token,
        })
      ).statusCode,
    ).toBe(404)
    expect((await hg.request('GET', `/v1/people/${ids.ann}`, { token: store.token })).statusCode).toBe(404)
    expect(
      (await hg.request('GET', `/v1/store-events?userId=${ids.ann}`, { token: store.token })).json().events,
    ).toEqual([])
    const again = await hg.request('POST', '/v1/store-events', {
      token: store.token,
      body: { type: 'x', userId: ids.ann },
    })
    expect(again.statusCode).toBe(404)
    expect(await rollup()).toEqual([
      { hour: new Date(hour).toISOString(), name: 'visit', events: 1, subjects: 1, sessions: 0 },
    ])
    const rawEvents = await hg.request(
      'GET',
      `/v1/sources/${store.id}/events?from=${hour}&to=${hour + 3600_000}`,
      { token: admin },
    )
    expect(rawEvents.json().events.map((e: { subject: string }) => e.subject)).toEqual([ids.cyd])

    // Append-only: every earlier record is unchanged.
    expect(await logUpTo(headBefore)).toBe(logBefore)

    // No personal field in clear text in the log files or in any ClickHouse table.
    const secrets = Object.values(person('ann'))
      .map(String)
      .filter((v) => v.length > 6)
    for (const file of filesUnder(join(hg.config.dataDir, 'log'))) {
      for (const secret of secrets) expect(file.includes(secret)).toBe(false)
    }
    for (const [name, text] of Object.entries(await warehouseText(hg.runtime.warehouse))) {
      for (const secret of [...secrets, ids.ann!]) {
        if (name === 'store_erasures' && secret === ids.ann) continue
        expect(text.includes(secret), `${secret} in ${name}`).toBe(false)
      }
    }
  })

  it('keeps every erasure through a full replay', async () => {
    await replayEmbedded(hg.runtime, 'store-stats')
    await replayEmbedded(hg.runtime, 'events')
    await expectStatistics()
    const hour = Date.UTC(2026, 9, 6, 15)
    const rows = (
      await hg.request('GET', `/v1/sources/${store.id}/rollups/hourly?from=${hour}&to=${hour + 3600_000}`, {
        token: admin,
      })
    ).json().rows
    expect(rows).toEqual([
      { hour: new Date(hour).toISOString(), name: 'visit', events: 1, subjects: 1, sessions: 0 },
    ])
    expect(
      (await hg.request('GET', `/v1/store-events?userId=${ids.ann}`, { token: store.token })).json().events,
    ).toEqual([])
    expect(
      (await hg.request('GET', `/v1/store-events?userId=${ids.bob}`, { token: store.token })).json().events,
    ).toEqual([])
  })

  it('refuses an inactive store, also with a token issued before', async () => {
    const shop = await createStore(admin, 'Closing down')
    const off = await hg.request('PATCH', `/v1/stores/${shop.id}`, {
      token: admin,
      body: { isActive: false },
    })
    expect(off.json()).toMatchObject({ isActive: false })
    expect((await hg.request('POST', `${C}/api/auth`, { body: { api_key: shop.apiKey } })).statusCode).toBe(
      403,
    )
    expect(
      (await hg.request('POST', `${C}/api/user`, { token: shop.token, body: person('dan') })).statusCode,
    ).toBe(403)
    const listed = (await hg.request('GET', `${C}/api/store`, { token: admin })).json()
    expect(listed).toContainEqual({ id: shop.number, name: 'Closing down', is_active: false })
  })

  it('answers bad input with a clear 4xx and appends nothing', async () => {
    const head = await hg.runtime.telemetry.head()
    const cases: [string, string, unknown, number, string?][] = [
      ['POST', `${C}/api/user`, { ...person('eve'), email: 'not-an-email' }, 400, 'email'],
      ['POST', `${C}/api/user`, { email: 'eve@example.org' }, 400, 'username'],
      ['POST', `${C}/api/user`, { ...person('eve'), phone: 'call me' }, 400, 'phone'],
      ['POST', `${C}/api/event`, { type: 'x', store_id: 'one', user_id: ids.cyd, data: {} }, 400, 'store_id'],
      [
        'POST',
        `${C}/api/event`,
        { type: 'x', store_id: store.number, user_id: 'nobody', data: {} },
        400,
        'user_id',
      ],
      [
        'POST',
        `${C}/api/event`,
        { type: 'x', store_id: store.number, user_id: crypto.randomUUID(), data: {} },
        404,
      ],
      [
        'POST',
        `${C}/api/event`,
        { type: 'x', store_id: store.number, user_id: ids.cyd, data: [1] },
        400,
        'data',
      ],
      ['DELETE', `${C}/api/user/${crypto.randomUUID()}`, undefined, 404],
      ['PATCH', `${C}/api/user`, { ...person('nobody'), store_id: store.number }, 404],
    ]
    for (const [method, url, body, status, field] of cases) {
      const response = await hg.request(method as 'POST', url, {
        token: store.token,
        ...(body === undefined ? {} : { body }),
      })
      expect(response.statusCode, `${method} ${url} ${JSON.stringify(body)}`).toBe(status)
      if (field) expect(response.json().error.issues.map((i: { path: string }) => i.path)).toContain(field)
    }
    expect((await hg.request('POST', `${C}/api/auth`, { body: { api_key: 'wrong' } })).statusCode).toBe(401)
    expect(
      (await hg.request('POST', `${C}/api/user`, { token: 'forged', body: person('eve') })).statusCode,
    ).toBe(401)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })
})
