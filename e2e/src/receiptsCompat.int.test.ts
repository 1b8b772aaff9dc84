import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RECEIPTS as C, registerAnalyst, seedBreakdown } from './harness/featureFlows.ts'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import { expectedTotals, generateReceipts, seedFigures, seedReceipt } from './harness/receiptFixtures.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  hg = await startTestHourglass({ HOURGLASS_PROJECTION_BATCH_SIZE: '150' })
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 8, 14)

const analyst = (adminToken: string | null) => registerAnalyst(hg.api, adminToken)

/** GET with `Authorization: Token <key>`, as Django REST framework clients send it. */
const get = (url: string, key: string) =>
  hg.request('GET', url, { headers: { authorization: `Token ${key}` } })

describe('compat: seed 003 receipts', () => {
  it('takes the seed example at /api/checks/, counts it once when /api/add_checks/ gets it too, and reports it', async () => {
    const admin = await hg.signUp()
    const place = await hg.createSource(admin.token, 'place')
    const sent = await hg.request('POST', `${C}/api/checks/`, { token: place.apiToken, body: seedReceipt() })
    expect(sent.statusCode, sent.body).toBe(201)
    expect(sent.json()).toEqual({
      ...seedReceipt(),
      timestamp: '2024-02-07T12:34:56.000Z',
      items: seedReceipt().items.map((item) => ({ ...item, price: item.price.toFixed(2) })),
      total_amount: '27.47',
      nds_amount: '2.47',
      tips_amount: '3.00',
    })
    const again = await hg.request('POST', `${C}/api/add_checks/`, {
      headers: { authorization: `Token ${place.apiToken}` },
      body: seedReceipt(),
    })
    expect(again.statusCode).toBe(200)
    await hg.settled()

    const { key } = await analyst(admin.token)
    expect((await get(`${C}/api/places/`, key)).json()).toEqual([
      { place_id: '011', place_name: 'Магазин №1' },
    ])
    const figures = {
      purchases_count: 1,
      average_check: '27.47',
      total_amount: '27.47',
      nds_amount: '2.47',
      tips_amount: '3.00',
    }
    const categories = [
      { category: 'electronics', items_sold: 1, total_amount: '5.49' },
      { category: 'groceries', items_sold: 2, total_amount: '21.98' },
    ]
    const hourly = [{ hour: '2024-02-07T12:00:00.000Z', ...figures }]
    expect((await get(`${C}/api/analytics/`, key)).json()).toEqual({
      ...figures,
      categories,
      places: [{ place_id: '011', place_name: 'Магазин №1', ...figures }],
      hourly,
    })
    expect((await get(`${C}/api/analytics/011/`, key)).json()).toEqual({
      place_id: '011',
      place_name: 'Магазин №1',
      ...figures,
      categories,
      hourly,
    })
    const unknown = await get(`${C}/api/analytics/999/`, key)
    expect(unknown.statusCode).toBe(404)
  })

  it('adds up a few hundred receipts sent to both endpoints, per place, category and hour, also after a replay', async () => {
    const admin = await hg.signUp()
    const sources = [await hg.createSource(admin.token, 'place'), await hg.createSource(admin.token, 'store')]
    // Seed 003 knows a place by place_id: "011" under both sources is one place.
    const places = [
      { source: 0, placeId: '011', placeName: 'Магазин №1' },
      { source: 0, placeId: '012', placeName: 'Магазин №2' },
      { source: 1, placeId: '011', placeName: 'Магазин №1' },
      { source: 1, placeId: '031', placeName: 'Кафе' },
    ]
    const receipts = generateReceipts('compat', 240, places, base, 20)
    let next = 0
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < receipts.length) {
          const i = next++
          const r = receipts[i]!
          const endpoint = i % 2 === 0 ? 'checks' : 'add_checks'
          const response = await hg.request('POST', `${C}/api/${endpoint}/`, {
            token: sources[places[r.place]!.source]!.apiToken,
            body: r.body,
          })
          expect(response.statusCode, response.body).toBe(201)
        }
      }),
    )
    await hg.settled()
    const { key } = await analyst(admin.token)

    const byPlaceId = (placeId: string) => receipts.filter((r) => places[r.place]!.placeId === placeId)
    const breakdown = seedBreakdown
    const placeIds = ['011', '012', '031']
    const names: Record<string, string> = { '011': 'Магазин №1', '012': 'Магазин №2', '031': 'Кафе' }

    const checkEverything = async () => {
      expect((await get(`${C}/api/places/`, key)).json()).toEqual(
        placeIds.map((id) => ({ place_id: id, place_name: names[id] })),
      )
      expect((await get(`${C}/api/analytics/`, key)).json()).toEqual({
        ...breakdown(receipts),
        places: placeIds.map((id) => ({
          place_id: id,
          place_name: names[id],
          ...seedFigures(expectedTotals(byPlaceId(id)).totals),
        })),
      })
      for (const id of placeIds) {
        expect((await get(`${C}/api/analytics/${id}/`, key)).json()).toEqual({
          place_id: id,
          place_name: names[id],
          ...breakdown(byPlaceId(id)),
        })
      }
      // One hour of one place.
      const hour = base + 3 * HOUR
      const inHour = byPlaceId('011').filter((r) => r.hour === hour)
      const oneHour = (await get(`${C}/api/analytics/011/?from=${hour}&to=${hour + HOUR}`, key)).json()
      expect(oneHour).toEqual({ place_id: '011', place_name: names['011'], ...breakdown(inHour) })
    }

    await checkEverything()
    await replayEmbedded(hg.runtime, 'receipts')
    await checkEverything()
  })

  it('keeps analytics from users without the analyst role, and from other accounts', async () => {
    const admin = await hg.signUp()
    const place = await hg.createSource(admin.token, 'place')
    await hg.request('POST', `${C}/api/checks/`, {
      token: place.apiToken,
      body: { ...seedReceipt(), transaction_id: 'private' },
    })
    await hg.settled()
    const plain = await analyst(null)
    for (const url of ['/api/places/', '/api/analytics/', '/api/analytics/011/']) {
      const response = await get(`${C}${url}`, plain.key)
      expect(response.statusCode, url).toBe(403)
      expect(response.json().error.code).toBe('FORBIDDEN')
      expect((await hg.request('GET', `${C}${url}`)).statusCode).toBe(401)
    }
    // Granted by another account, the analyst sees only that account's (empty) analytics.
    const other = await hg.signUp()
    await hg.request('PUT', `/v1/account/analysts/${plain.username}`, { token: other.token })
    expect((await get(`${C}/api/places/`, plain.key)).json()).toEqual([])
    expect((await get(`${C}/api/analytics/`, plain.key)).json()).toMatchObject({ purchases_count: 0 })
  })

  it('registers and signs in as seed 003 shows, refusing what it should', async () => {
    const username = `user_${Math.random().toString(36).slice(2, 10)}`
    const mismatch = await hg.request('POST', `${C}/auth/registration/`, {
      body: { username, password1: 'secret', password2: 'secreT' },
    })
    expect(mismatch.statusCode).toBe(400)
    expect(mismatch.json().error.issues.map((i: { path: string }) => i.path)).toEqual(['password2'])
    const missing = await hg.request('POST', `${C}/auth/registration/`, { body: { username } })
    expect(
      missing
        .json()
        .error.issues.map((i: { path: string }) => i.path)
        .sort(),
    ).toEqual(['password1', 'password2'])
    const ok = await hg.request('POST', `${C}/auth/registration/`, {
      body: { username, password1: 'secret', password2: 'secret', email: '' },
    })
    expect(ok.statusCode).toBe(201)
    expect(ok.json()).toEqual({ key: expect.any(String) })
    const taken = await hg.request('POST', `${C}/auth/registration/`, {
      body: { username, password1: 'secret', password2: 'secret' },
    })
    expect(taken.statusCode).toBe(409)
    const wrong = await hg.request('POST', `${C}/auth/login/`, { body: { username, password: 'nope!!' } })
    expect(wrong.statusCode).toBe(401)
    // A member's key is not an account token: it cannot create sources.
    const key = ok.json().key
    const sources = await hg.request('POST', '/v1/sources', {
      token: key,
      body: { kind: 'place', name: 'x' },
    })
    expect(sources.statusCode).toBe(401)
  })
})

describe('compat: bad receipts', () => {
  let place: { id: string; apiToken: string }
  beforeAll(async () => {
    place = await hg.createSource((await hg.signUp()).token, 'place')
  })

  const item = seedReceipt().items[0]!
  const cases: [string, { body?: unknown; payload?: string; token?: string }, number, string, string?][] = [
    [
      'a missing total_amount',
      { body: { ...seedReceipt(), total_amount: undefined } },
      400,
      'INVALID_REQUEST',
      'total_amount',
    ],
    [
      'a missing items[0].category',
      { body: { ...seedReceipt(), items: [{ ...item, category: undefined }] } },
      400,
      'INVALID_REQUEST',
      'items[0].category',
    ],
    [
      'a negative quantity',
      { body: { ...seedReceipt(), items: [{ ...item, quantity: -1 }] } },
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a fractional quantity',
      { body: { ...seedReceipt(), items: [{ ...item, quantity: 0.5 }] } },
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a three-decimal price',
      { body: { ...seedReceipt(), items: [{ ...item, price: '10.999' }] } },
      400,
      'INVALID_REQUEST',
      'items[0].price',
    ],
    [
      'a total that does not add up',
      { body: { ...seedReceipt(), total_amount: 27.46 } },
      400,
      'INVALID_REQUEST',
      'total_amount',
    ],
    ['malformed JSON', { payload: '{"transaction_id": ' }, 400, 'MALFORMED_JSON'],
    [
      'an unknown place token',
      { body: seedReceipt(), token: `hg_00000000-0000-0000-0000-000000000000_${'A'.repeat(43)}` },
      401,
      'UNAUTHENTICATED',
    ],
  ]

  it.each(cases)(
    'refuses %s on both endpoints and appends nothing',
    async (_, request, status, code, path) => {
      for (const endpoint of ['checks', 'add_checks']) {
        const before = await hg.runtime.telemetry.head()
        const response = await hg.request('POST', `${C}/api/${endpoint}/`, {
          token: request.token ?? place.apiToken,
          ...(request.payload !== undefined ? { payload: request.payload } : { body: request.body }),
        })
        expect(response.statusCode, response.body).toBe(status)
        expect(response.json().error.code).toBe(code)
        if (path) expect(response.json().error.issues.map((i: { path: string }) => i.path)).toContain(path)
        expect(await hg.runtime.telemetry.head()).toBe(before)
      }
    },
  )

  it('answers no 5xx to a barrage of malformed requests on every compat route', async () => {
    const routes: ['GET' | 'POST', string][] = [
      ['POST', `${C}/api/checks/`],
      ['POST', `${C}/api/add_checks/`],
      ['POST', `${C}/auth/registration/`],
      ['POST', `${C}/auth/login/`],
      ['GET', `${C}/api/places/`],
      ['GET', `${C}/api/analytics/`],
      ['GET', `${C}/api/analytics/011/`],
      ['GET', `${C}/api/analytics/%00/`],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '{"a":',
      '{}',
      '{"items":[{}]}',
      '{"username":[],"password1":{}}',
      '{"total_amount":"x"}',
    ]
    const queries = ['', '?from=banana', '?from=2026-01-02&to=2026-01-01', `?account=${'x'.repeat(100)}`]
    const authorizations = [
      undefined,
      'Token',
      'Token x',
      `Token ${place.apiToken}`,
      `Bearer ${place.apiToken}`,
    ]
    await expectNoServerErrors(hg.runtime.app, { routes, queries, authorizations, payloads }, 500)
  })

  it('documents every receipt route in the OpenAPI document', async () => {
    const response = await hg.request('GET', '/docs/json')
    expect(response.statusCode).toBe(200)
    const paths = response.json().paths as Record<string, Record<string, { summary?: string }>>
    const receiptRoutes = [
      ['post', '/v1/receipts'],
      ['get', '/v1/receipts'],
      ['get', '/v1/receipts/analytics'],
      ['get', '/v1/receipts/places'],
      ['get', '/v1/receipts/runs'],
      ['post', '/v1/auth/members'],
      ['post', '/v1/auth/members/signin'],
      ['get', '/v1/account/analysts'],
      ['put', '/v1/account/analysts/{username}'],
      ['delete', '/v1/account/analysts/{username}'],
      ['post', `${C}/api/checks/`],
      ['post', `${C}/api/add_checks/`],
      ['post', `${C}/auth/registration/`],
      ['post', `${C}/auth/login/`],
      ['get', `${C}/api/places/`],
      ['get', `${C}/api/analytics/`],
      ['get', `${C}/api/analytics/{place_id}/`],
    ] as const
    for (const [method, path] of receiptRoutes) {
      expect(paths[path]?.[method]?.summary, `${method} ${path}`).toBeTruthy()
    }
  })
})
