import { replayEmbedded } from '@hourglass/scripts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectNoServerErrors } from './harness/malformedRequests.ts'
import {
  expectedTotals,
  type GeneratedReceipt,
  generateReceipts,
  money,
  nativeFigures,
  seedReceipt,
} from './harness/receiptFixtures.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

let hg: TestHourglass
beforeAll(async () => {
  // Small batches: many projection runs, and batches that mix receipts with other records.
  hg = await startTestHourglass({ HOURGLASS_PROJECTION_BATCH_SIZE: '150' })
})
afterAll(() => hg?.close())

const HOUR = 3600_000
const base = Date.UTC(2026, 9, 5)

/** Sends every receipt, `concurrency` at a time, and expects each to be accepted. */
const sendAll = async (
  receipts: readonly { body: unknown; token: string }[],
  url = '/v1/receipts',
  concurrency = 8,
) => {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < receipts.length) {
        const { body, token } = receipts[next++]!
        const response = await hg.request('POST', url, { token, body })
        expect(response.statusCode, response.body).toBe(201)
      }
    }),
  )
}

const analytics = async (token: string, query = '') => {
  const response = await hg.request('GET', `/v1/receipts/analytics?${query}`, { token })
  expect(response.statusCode, response.body).toBe(200)
  return response.json()
}

/** An account with two place sources and a store, and the places each one sends receipts for. */
const shop = async () => {
  const admin = await hg.signUp()
  const sources = [await hg.createSource(admin.token, 'place'), await hg.createSource(admin.token, 'store')]
  const places = [
    { source: 0, placeId: '011', placeName: 'Магазин №1' },
    { source: 0, placeId: '012', placeName: 'Магазин №2' },
    { source: 1, placeId: '011', placeName: 'Кафе «Север»' },
    { source: 1, placeId: '021', placeName: 'Аптека' },
  ]
  return { admin, sources, places }
}

describe('receipts: seed 003 example', () => {
  it('accepts the seed example and counts it to the cent in its hour, place and categories', async () => {
    const { token } = await hg.signUp()
    const place = await hg.createSource(token, 'place')
    const response = await hg.request('POST', '/v1/receipts', {
      token: place.apiToken,
      body: { ...seedReceipt(), cashier: 'ignored' },
    })
    expect(response.statusCode, response.body).toBe(201)
    expect(response.json()).toMatchObject({
      status: 'accepted',
      receipt: {
        transactionId: 'unique_transaction_id',
        sourceId: place.id,
        placeId: '011',
        placeName: 'Магазин №1',
        timestamp: '2024-02-07T12:34:56.000Z',
        items: [
          { productId: 'product_id_1', category: 'groceries', quantity: 2, price: '10.99' },
          { productId: 'product_id_2', category: 'electronics', quantity: 1, price: '5.49' },
        ],
        total: '27.47',
        nds: '2.47',
        tips: '3.00',
      },
    })
    expect(response.body).not.toContain('cashier')
    await hg.settled()
    const seen = await analytics(token, `place=011&from=2024-02-07T12:00:00Z&to=2024-02-07T13:00:00Z`)
    const figures = { purchases: 1, averageReceipt: '27.47', revenue: '27.47', nds: '2.47', tips: '3.00' }
    expect(seen.totals).toEqual(figures)
    expect(seen.hours).toEqual([{ hour: '2024-02-07T12:00:00.000Z', ...figures }])
    expect(seen.categories).toEqual([
      { category: 'electronics', items: 1, revenue: '5.49' },
      { category: 'groceries', items: 2, revenue: '21.98' },
    ])
    expect(seen.places).toEqual([{ sourceId: place.id, placeId: '011', placeName: 'Магазин №1', ...figures }])
    // The next hour has nothing.
    const later = await analytics(token, 'from=2024-02-07T13:00:00Z&to=2024-02-07T14:00:00Z')
    expect(later.totals).toEqual({
      purchases: 0,
      averageReceipt: '0.00',
      revenue: '0.00',
      nds: '0.00',
      tips: '0.00',
    })
  })
})

describe('receipts: every figure to the cent', () => {
  it('adds up a few hundred generated receipts per place, category and hour, the same after a replay', async () => {
    const { admin, sources, places } = await shop()
    const receipts = generateReceipts('gen', 300, places, base, 30)
    await sendAll(receipts.map((r) => ({ body: r.body, token: sources[places[r.place]!.source]!.apiToken })))
    await hg.settled()

    const range = `from=${base}&to=${base + 30 * HOUR}`
    const hoursOf = (expected: ReturnType<typeof expectedTotals>) =>
      [...expected.hours]
        .sort(([a], [b]) => a - b)
        .map(([hour, f]) => ({ hour: new Date(hour).toISOString(), ...nativeFigures(f) }))
    const categoriesOf = (expected: ReturnType<typeof expectedTotals>) =>
      [...expected.categories]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([category, c]) => ({ category, items: c.items, revenue: money(c.revenue) }))
    const ofPlace = (i: number) => receipts.filter((r) => r.place === i)

    const checkEverything = async () => {
      const all = expectedTotals(receipts)
      const overall = await analytics(admin.token, range)
      expect(overall.totals).toEqual(nativeFigures(all.totals))
      expect(overall.hours).toEqual(hoursOf(all))
      expect(overall.categories).toEqual(categoriesOf(all))
      expect(overall.places).toEqual(
        places
          .map((p, i) => ({
            sourceId: sources[p.source]!.id,
            placeId: p.placeId,
            placeName: p.placeName,
            ...nativeFigures(expectedTotals(ofPlace(i)).totals),
          }))
          .sort((a, b) => a.placeId.localeCompare(b.placeId) || a.sourceId.localeCompare(b.sourceId)),
      )
      for (const [i, p] of places.entries()) {
        const expected = expectedTotals(ofPlace(i))
        const seen = await analytics(
          admin.token,
          `${range}&source=${sources[p.source]!.id}&place=${p.placeId}`,
        )
        expect(seen.totals).toEqual(nativeFigures(expected.totals))
        expect(seen.hours).toEqual(hoursOf(expected))
        expect(seen.categories).toEqual(categoriesOf(expected))
      }
      // One hour, one place, per category.
      const hour = receipts[0]!.hour
      const inHour = (r: GeneratedReceipt) => r.hour === hour && r.place === receipts[0]!.place
      const p = places[receipts[0]!.place]!
      const one = await analytics(
        admin.token,
        `from=${hour}&to=${hour + HOUR}&source=${sources[p.source]!.id}&place=${p.placeId}`,
      )
      const expected = expectedTotals(receipts.filter(inHour))
      expect(one.totals).toEqual(nativeFigures(expected.totals))
      expect(one.categories).toEqual(categoriesOf(expected))
      // Every receipt is in the journal of analytics runs exactly once (a rebuild's runs are larger).
      const runs = (await hg.request('GET', '/v1/receipts/runs?limit=1000', { token: admin.token })).json()
      expect(runs.runs.length).toBeGreaterThan(0)
      expect(runs.runs.reduce((n: number, run: { receipts: number }) => n + run.receipts, 0)).toBe(
        receipts.length,
      )
      const revenue = runs.runs.reduce(
        (cents: number, run: { revenue: string }) => cents + Math.round(Number(run.revenue) * 100),
        0,
      )
      expect(revenue).toBe(all.totals.revenue)
    }

    await checkEverything()
    const places_ = (await hg.request('GET', '/v1/receipts/places', { token: admin.token })).json().places
    expect(
      places_.map((p: { placeId: string; placeName: string; purchases: number }) => [
        p.placeId,
        p.placeName,
        p.purchases,
      ]),
    ).toEqual(
      [...places.entries()]
        .map(([i, p]) => [p.placeId, p.placeName, ofPlace(i).length, sources[p.source]!.id] as const)
        .sort((a, b) => a[0].localeCompare(b[0]) || a[3].localeCompare(b[3]))
        .map(([placeId, name, n]) => [placeId, name, n]),
    )

    const status = await replayEmbedded(hg.runtime, 'receipts')
    expect(status.committed).toBe(await hg.runtime.telemetry.head())
    await checkEverything()
  })

  it('names a place as on its latest receipt', async () => {
    const { token } = await hg.signUp()
    const place = await hg.createSource(token, 'place')
    const renamed = [
      { ...seedReceipt(), transaction_id: 'r-2', timestamp: '2024-02-08T10:00:00Z', place_name: 'Новое имя' },
      {
        ...seedReceipt(),
        transaction_id: 'r-1',
        timestamp: '2024-02-07T10:00:00Z',
        place_name: 'Старое имя',
      },
    ]
    await sendAll(
      renamed.map((body) => ({ body, token: place.apiToken })),
      '/v1/receipts',
      1,
    )
    await hg.settled()
    const { places } = (await hg.request('GET', '/v1/receipts/places', { token })).json()
    expect(places).toEqual([
      {
        sourceId: place.id,
        placeId: '011',
        placeName: 'Новое имя',
        purchases: 2,
        firstReceiptAt: '2024-02-07T10:00:00.000Z',
        lastReceiptAt: '2024-02-08T10:00:00.000Z',
      },
    ])
  })
})

describe('receipts: counted once', () => {
  it('acknowledges a re-sent receipt and counts it once, also when clients send it at once', async () => {
    const { token } = await hg.signUp()
    const place = await hg.createSource(token, 'place')
    const receipt = { ...seedReceipt(), transaction_id: 'twice' }
    const first = await hg.request('POST', '/v1/receipts', { token: place.apiToken, body: receipt })
    expect(first.statusCode).toBe(201)
    const again = await hg.request('POST', '/v1/receipts', { token: place.apiToken, body: receipt })
    expect(again.statusCode).toBe(200)
    expect(again.json()).toMatchObject({
      status: 'duplicate',
      receipt: { position: first.json().receipt.position },
    })

    const racing = { ...seedReceipt(), transaction_id: 'racing' }
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        hg.request('POST', '/v1/receipts', { token: place.apiToken, body: racing }),
      ),
    )
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201])
    expect(new Set(answers.map((a) => a.json().receipt.position)).size).toBe(1)

    // The same id with other contents is not a re-send.
    const head = await hg.runtime.telemetry.head()
    const changed = await hg.request('POST', '/v1/receipts', {
      token: place.apiToken,
      body: { ...receipt, tips_amount: 4 },
    })
    expect(changed.statusCode).toBe(409)
    expect(changed.json().error).toMatchObject({
      code: 'TRANSACTION_ID_TAKEN',
      issues: [{ path: 'transaction_id', message: expect.any(String) }],
    })
    expect(await hg.runtime.telemetry.head()).toBe(head)

    await hg.settled()
    const seen = await analytics(token)
    expect(seen.totals).toMatchObject({ purchases: 2, revenue: '54.94', tips: '6.00' })
    const journal = (await hg.request('GET', '/v1/receipts', { token })).json()
    expect(journal.receipts.map((r: { transactionId: string }) => r.transactionId).sort()).toEqual([
      'racing',
      'twice',
    ])
  })
})

describe('receipts: journal', () => {
  it('lists the receipts received, by place and time, a page at a time', async () => {
    const { admin, sources, places } = await shop()
    const receipts = generateReceipts('journal', 40, places, base, 10)
    await sendAll(receipts.map((r) => ({ body: r.body, token: sources[places[r.place]!.source]!.apiToken })))
    await hg.settled()
    const p = places[1]!
    const wanted = receipts
      .filter((r) => r.place === 1 && r.hour < base + 5 * HOUR)
      .map((r) => r.body.transaction_id)
    const seen: { transactionId: string; timestamp: string; total: string; placeId: string }[] = []
    let cursor: string | null = null
    do {
      const query = `from=${base}&to=${base + 5 * HOUR}&source=${sources[p.source]!.id}&place=${p.placeId}&limit=3`
      const response = await hg.request('GET', `/v1/receipts?${query}${cursor ? `&cursor=${cursor}` : ''}`, {
        token: admin.token,
      })
      expect(response.statusCode, response.body).toBe(200)
      seen.push(...response.json().receipts)
      cursor = response.json().nextCursor
    } while (cursor)
    expect(seen.map((r) => r.transactionId).sort()).toEqual([...wanted].sort())
    expect(seen.map((r) => r.timestamp)).toEqual([...seen.map((r) => r.timestamp)].sort())
    for (const r of seen) {
      const sent = receipts.find((g) => g.body.transaction_id === r.transactionId)!
      expect(r).toMatchObject({ placeId: '012', total: money(sent.totalCents) })
    }
  })
})

describe('receipts: the analyst role', () => {
  it('lets a member read analytics only while the account admin grants the analyst role', async () => {
    const { admin, sources, places } = await shop()
    await sendAll(
      generateReceipts('roles', 5, places, base, 2).map((r) => ({
        body: r.body,
        token: sources[places[r.place]!.source]!.apiToken,
      })),
    )
    await hg.settled()
    const member = await hg.request('POST', '/v1/auth/members', {
      body: { username: `ana-${Date.now()}`, password: 'secret' },
    })
    expect(member.statusCode, member.body).toBe(201)
    const { token, username } = member.json()
    const reads = ['/v1/receipts/analytics', '/v1/receipts/places', '/v1/receipts', '/v1/receipts/runs']
    for (const url of reads) {
      const response = await hg.request('GET', url, { token })
      expect(response.statusCode, url).toBe(403)
      expect(response.json().error.code).toBe('FORBIDDEN')
    }
    // A member cannot grant roles: only an account token speaks for an account's admin.
    expect((await hg.request('PUT', `/v1/account/analysts/${username}`, { token })).statusCode).toBe(401)

    const granted = await hg.request('PUT', `/v1/account/analysts/${username}`, { token: admin.token })
    expect(granted.json()).toMatchObject({ username, analyst: true })
    const listed = (await hg.request('GET', '/v1/account/analysts', { token: admin.token })).json()
    expect(listed.analysts.map((a: { username: string }) => a.username)).toEqual([username])
    for (const url of reads) expect((await hg.request('GET', url, { token })).statusCode, url).toBe(200)
    const range = `from=${base}&to=${base + 2 * HOUR}`
    const asAnalyst = await analytics(token, range)
    expect(asAnalyst).toEqual(await analytics(admin.token, range))
    expect(asAnalyst.totals.purchases).toBe(5)
    // Signing in gives a token that works the same.
    const signIn = await hg.request('POST', '/v1/auth/members/signin', {
      body: { username, password: 'secret' },
    })
    expect((await hg.request('GET', reads[0]!, { token: signIn.json().token })).statusCode).toBe(200)

    // An analyst of one account sees nothing of another, even when naming it.
    const other = await hg.signUp()
    const theirs = await hg.request('GET', `/v1/receipts/analytics?account=${other.accountId}`, { token })
    expect(theirs.statusCode).toBe(403)
    const adminOfOther = await hg.request('GET', `/v1/receipts/analytics?account=${admin.accountId}`, {
      token: other.token,
    })
    expect(adminOfOther.statusCode).toBe(403)
    expect((await analytics(other.token)).totals.purchases).toBe(0)

    // Analyst of two accounts: must name one.
    await hg.request('PUT', `/v1/account/analysts/${username}`, { token: other.token })
    const ambiguous = await hg.request('GET', '/v1/receipts/analytics', { token })
    expect(ambiguous.statusCode).toBe(400)
    expect(ambiguous.json().error.issues[0].path).toBe('account')
    const named = await analytics(token, `account=${admin.accountId}`)
    expect(named.totals.purchases).toBe(5)

    const revoked = await hg.request('DELETE', `/v1/account/analysts/${username}`, { token: admin.token })
    expect(revoked.json()).toMatchObject({ analyst: false })
    expect(
      (await hg.request('GET', `/v1/receipts/analytics?account=${admin.accountId}`, { token })).statusCode,
    ).toBe(403)
    expect((await analytics(token)).totals.purchases).toBe(0)
    expect(
      (await hg.request('PUT', '/v1/account/analysts/nobody-here', { token: admin.token })).statusCode,
    ).toBe(404)
  })

  it('refuses a taken username, a wrong password, and a missing token', async () => {
    const username = `bob-${Date.now()}`
    expect(
      (await hg.request('POST', '/v1/auth/members', { body: { username, password: 'secret' } })).statusCode,
    ).toBe(201)
    const taken = await hg.request('POST', '/v1/auth/members', { body: { username, password: 'another' } })
    expect(taken.statusCode).toBe(409)
    const wrong = await hg.request('POST', '/v1/auth/members/signin', {
      body: { username, password: 'secreT' },
    })
    expect(wrong.statusCode).toBe(401)
    expect((await hg.request('GET', '/v1/receipts/analytics')).statusCode).toBe(401)
    expect((await hg.request('GET', '/v1/receipts/analytics', { token: 'nonsense' })).statusCode).toBe(401)
  })
})

describe('receipts: bad input', () => {
  let place: { id: string; apiToken: string }
  let app: { id: string; apiToken: string }
  beforeAll(async () => {
    const { token } = await hg.signUp()
    place = await hg.createSource(token, 'place')
    app = await hg.createSource(token, 'app')
  })

  const item = seedReceipt().items[0]!
  const without = (field: string) => {
    const body: Record<string, unknown> = seedReceipt()
    delete body[field]
    return body
  }
  const cases: [
    string,
    () => { body?: unknown; payload?: string; token?: string },
    number,
    string,
    string?,
  ][] = [
    ...[
      'transaction_id',
      'timestamp',
      'items',
      'total_amount',
      'nds_amount',
      'tips_amount',
      'payment_method',
      'place_id',
      'place_name',
    ].map(
      (field) =>
        [`a missing ${field}`, () => ({ body: without(field) }), 400, 'INVALID_REQUEST', field] as [
          string,
          () => { body: unknown },
          number,
          string,
          string,
        ],
    ),
    [
      'a missing item price',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, price: undefined }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].price',
    ],
    [
      'a negative quantity',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, quantity: -2 }], total_amount: -21.98 } }),
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a zero quantity',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, quantity: 0 }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a fractional quantity',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, quantity: 1.5 }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a quantity given as text',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, quantity: '2' }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].quantity',
    ],
    [
      'a three-decimal price',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, price: 10.995 }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].price',
    ],
    [
      'a negative price',
      () => ({ body: { ...seedReceipt(), items: [{ ...item, price: -10.99 }] } }),
      400,
      'INVALID_REQUEST',
      'items[0].price',
    ],
    [
      'a three-decimal tip',
      () => ({ body: { ...seedReceipt(), tips_amount: 3.001 } }),
      400,
      'INVALID_REQUEST',
      'tips_amount',
    ],
    [
      'a total that does not add up',
      () => ({ body: { ...seedReceipt(), total_amount: 27.48 } }),
      400,
      'INVALID_REQUEST',
      'total_amount',
    ],
    [
      'a total that counts the tip',
      () => ({ body: { ...seedReceipt(), total_amount: 30.47 } }),
      400,
      'INVALID_REQUEST',
      'total_amount',
    ],
    ['no items', () => ({ body: { ...seedReceipt(), items: [] } }), 400, 'INVALID_REQUEST', 'items'],
    [
      'a timestamp that is not a date',
      () => ({ body: { ...seedReceipt(), timestamp: 'yesterday' } }),
      400,
      'INVALID_REQUEST',
      'timestamp',
    ],
    [
      'a far-future timestamp',
      () => ({ body: { ...seedReceipt(), timestamp: '2099-01-01T00:00:00' } }),
      400,
      'INVALID_REQUEST',
      'timestamp',
    ],
    [
      'an empty place_id',
      () => ({ body: { ...seedReceipt(), place_id: '' } }),
      400,
      'INVALID_REQUEST',
      'place_id',
    ],
    ['a body that is a list', () => ({ body: [seedReceipt()] }), 400, 'INVALID_REQUEST'],
    ['malformed JSON', () => ({ payload: '{"transaction_id": "x", ' }), 400, 'MALFORMED_JSON'],
    ['an empty body', () => ({ payload: '' }), 400, 'EMPTY_BODY'],
    [
      'an unknown place token',
      () => ({ body: seedReceipt(), token: `hg_${place.id}_${'A'.repeat(43)}` }),
      401,
      'UNAUTHENTICATED',
    ],
    ['a token of no known form', () => ({ body: seedReceipt(), token: 'letmein' }), 401, 'UNAUTHENTICATED'],
    ["an app source's token", () => ({ body: seedReceipt(), token: app.apiToken }), 403, 'FORBIDDEN'],
  ]

  it.each(cases)(
    'refuses %s with a clear 4xx naming the field, and appends nothing',
    async (_, make, status, code, path) => {
      const before = await hg.runtime.telemetry.head()
      const request = make()
      const response = await hg.request('POST', '/v1/receipts', {
        token: request.token ?? place.apiToken,
        ...(request.payload !== undefined ? { payload: request.payload } : { body: request.body }),
      })
      expect(response.statusCode, response.body).toBe(status)
      const body = response.json()
      expect(body.error.code).toBe(code)
      if (path) {
        expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path)
        expect(body.error.message).toContain(path)
      }
      expect(await hg.runtime.telemetry.head()).toBe(before)
    },
  )

  it('gives both figures when the total does not add up', async () => {
    const response = await hg.request('POST', '/v1/receipts', {
      token: place.apiToken,
      body: { ...seedReceipt(), total_amount: '27.48' },
    })
    expect(response.json().error.message).toBe(
      'total_amount: is 27.48 but the items add up to 27.47 (Σ quantity × price)',
    )
  })

  it('answers no 5xx to a barrage of malformed requests on every receipt route', async () => {
    const { token } = await hg.signUp()
    const routes: ['GET' | 'POST' | 'PUT' | 'DELETE', string][] = [
      ['POST', '/v1/receipts'],
      ['POST', '/v1/auth/members'],
      ['POST', '/v1/auth/members/signin'],
      ['PUT', '/v1/account/analysts/x'],
      ['PUT', '/v1/account/analysts/%00'],
      ['DELETE', '/v1/account/analysts/x'],
      ['GET', '/v1/account/analysts'],
      ['GET', '/v1/receipts/analytics'],
      ['GET', '/v1/receipts/places'],
      ['GET', '/v1/receipts'],
      ['GET', '/v1/receipts/runs'],
    ]
    const payloads = [
      '',
      'null',
      '[]',
      '"x"',
      '1e999',
      '{"a":',
      '{}',
      '{"items":null}',
      '{"username":{},"password":[]}',
      '{"total_amount":1e400}',
    ]
    const queries = [
      '',
      '?from=banana',
      '?from=2026-01-02&to=2026-01-01',
      '?limit=-1',
      '?cursor=%%%',
      '?account=x',
      `?place=${'x'.repeat(500)}`,
      '?before=-1',
      '?before=99999999999999999999',
      '?from=0&to=999999999999999',
      '?from=999999999999999',
      '?from=2026-13-45T99:99:99Z',
    ]
    const authorizations = [
      undefined,
      'Bearer',
      'Token x',
      `Bearer ${token}`,
      `Bearer ${place.apiToken}`,
      'Basic Zm9vOmJhcg==',
    ]
    await expectNoServerErrors(
      hg.runtime.app,
      {
        routes,
        queries,
        writeQueries: ['', '?x=%%'],
        bodyless: ['GET', 'DELETE'],
        authorizations,
        payloads,
      },
      800,
    )
  })
})
