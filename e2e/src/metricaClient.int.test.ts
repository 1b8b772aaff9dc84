import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { METRICA as M, PRODUCT_VIEWS } from './harness/featureFlows.ts'
import { startTestHourglass, type TestHourglass } from './harness/testHourglass.ts'

/**
 * Seed 000 as its own clients use it: the user, application and device services with the
 * seed's own request bodies and messages, knowing nothing of /v1.
 */

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

/** The seed's own device message, as the seed writes it (its event definition is PRODUCT_VIEWS). */
const SEED_MESSAGE = {
  user_code: 'user_code_uuid',
  event_name: 'number_of_adding_products_in_cart',
  attrs: [
    { name: 'product_name', type: 'string' },
    { name: 'quantity', type: 'integer' },
  ],
}

/** A message of "number of product views" under a name the device uses, with the values it has. */
interface Sent {
  readonly user: string
  readonly eventName: string
  readonly product?: string
  readonly quantity?: number
}
const message = ({ user, eventName, product, quantity }: Sent) => ({
  user_code: user,
  event_name: eventName,
  attrs: [
    { name: 'product_name', type: 'string', ...(product === undefined ? {} : { value: product }) },
    { name: 'quantity', type: 'integer', ...(quantity === undefined ? {} : { value: quantity }) },
  ],
})

/**
 * The statistics of the messages sent, as documented: per user, the sum of `quantity` per
 * `product_name`; a message without a product counts under the event's name, one without a
 * quantity counts once.
 */
const expectedStatistics = (sent: readonly Sent[], eventName: string) => {
  const users = new Map<string, Record<string, number>>()
  for (const { user, product, quantity } of sent) {
    const values = users.get(user) ?? {}
    const key = product ?? eventName
    values[key] = (values[key] ?? 0) + (quantity ?? 1)
    users.set(user, values)
  }
  return [...users.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([user_code, values]) => ({ user_code, ...values }))
}
const byUser = (rows: { user_code: string }[]) =>
  [...rows].sort((a, b) => a.user_code.localeCompare(b.user_code))

let hg: TestHourglass
let jwt: string
let app: { apiToken: string; appCode: string; eventCode: string }

beforeAll(async () => {
  hg = await startTestHourglass()
})
afterAll(() => hg?.close())

describe('a seed 000 client (/compat/metrica) that knows only the seed', () => {
  it("signs up, creates the seed's app and event, and gets codes that read like the seed's", async () => {
    const signup = await hg.request('POST', `${M}/auth/signup`, {
      body: { name: 'theUser', surname: 'James', email: 'john@email.com', password: '12345', phone: '12345' },
    })
    expect(signup.statusCode, signup.body).toBe(200)
    const signin = await hg.request('POST', `${M}/auth/signin/`, {
      body: { email: 'john@email.com', password: '12345' },
    })
    expect(signin.statusCode, signin.body).toBe(200)
    jwt = signin.json().jwt_token
    const created = await hg.request('POST', `${M}/app/create`, {
      token: jwt,
      body: { app_name: 'electronic-shop' },
    })
    expect(created.statusCode, created.body).toBe(200)
    expect(created.json().app_code).toMatch(new RegExp(`^electronic-shop-${UUID}$`))
    const defined = await hg.request('POST', `${M}/app/create_event/${created.json().app_code}`, {
      token: jwt,
      body: PRODUCT_VIEWS,
    })
    expect(defined.statusCode, defined.body).toBe(200)
    expect(defined.json().event_code).toMatch(new RegExp(`^number_of_product_views-${UUID}$`))
    expect(defined.json().app_code).toBe(created.json().app_code)
    app = {
      apiToken: created.json().api_token,
      appCode: created.json().app_code,
      eventCode: defined.json().event_code,
    }
  })

  const sent: Sent[] = []

  it("counts the seed's own message shape, attributes without values, under the underscored event name", async () => {
    const messages: Sent[] = [
      { user: 'user-a', eventName: 'number_of_product_views' },
      { user: 'user-a', eventName: 'number_of_product_views', product: 'resistor', quantity: 11 },
      { user: 'user-b', eventName: 'number of product views', product: 'diode', quantity: 235 },
      { user: 'user-a', eventName: 'number_of_product_views', product: 'transistor' },
      { user: 'user-b', eventName: 'number_of_product_views', quantity: 4 },
      { user: 'user-c', eventName: 'number_of_product_views' },
      { user: 'user-a', eventName: 'number_of_product_views', product: 'resistor', quantity: 3 },
    ]
    for (const m of messages) {
      const response = await hg.request('POST', `${M}/${app.appCode}`, {
        token: app.apiToken,
        body: message(m),
      })
      expect(response.statusCode, response.body).toBe(200)
      expect(response.json().status).toBe('accepted')
      sent.push(m)
    }
    const stats = await hg.request('GET', `${M}/${app.appCode}/${app.eventCode}`, { token: jwt })
    expect(stats.statusCode, stats.body).toBe(200)
    expect(byUser(stats.json())).toEqual(expectedStatistics(sent, 'number of product views'))
  })

  it("refuses the seed's example message while its event is not defined, naming the app's events", async () => {
    const head = await hg.runtime.telemetry.head()
    const refused = await hg.request('POST', `${M}/${app.appCode}`, {
      token: app.apiToken,
      body: SEED_MESSAGE,
    })
    expect(refused.statusCode).toBe(400)
    const [issue] = refused.json().error.issues
    expect(issue.path).toBe('event_name')
    expect(issue.message).toContain('"number of product views"')
    expect(await hg.runtime.telemetry.head()).toBe(head)
    // Once the app defines it, the same message counts, once, for its user.
    const defined = await hg.request('POST', `${M}/app/create_event/${app.appCode}`, {
      token: jwt,
      body: { events: [{ name: 'number of adding products in cart', attrs: SEED_MESSAGE.attrs }] },
    })
    expect(defined.statusCode).toBe(200)
    const accepted = await hg.request('POST', `${M}/${app.appCode}`, {
      token: app.apiToken,
      body: SEED_MESSAGE,
    })
    expect(accepted.statusCode, accepted.body).toBe(200)
    const stats = await hg.request('GET', `${M}/${app.appCode}/${defined.json().event_code}/`, { token: jwt })
    expect(stats.json()).toEqual([{ user_code: 'user_code_uuid', 'number of adding products in cart': 1 }])
  })

  it('keeps earlier app codes (the bare app id) valid beside the new ones', async () => {
    const bareId = app.appCode.slice(-36)
    const extra: Sent = {
      user: 'user-c',
      eventName: 'number_of_product_views',
      product: 'diode',
      quantity: 2,
    }
    const posted = await hg.request('POST', `${M}/${bareId}`, { token: app.apiToken, body: message(extra) })
    expect(posted.statusCode, posted.body).toBe(200)
    sent.push(extra)
    const stats = await hg.request('GET', `${M}/${bareId}/${app.eventCode}`, { token: jwt })
    expect(byUser(stats.json())).toEqual(expectedStatistics(sent, 'number of product views'))
    const token = await hg.request('GET', `${M}/auth/${bareId}`, { token: jwt })
    expect(token.json().app_code).toBe(app.appCode)
    const wrongName = await hg.request('GET', `${M}/other-shop-${bareId}/${app.eventCode}`, { token: jwt })
    expect(wrongName.statusCode).toBe(404)
  })

  it('refuses a query parameter it does not know, naming it, instead of ignoring it', async () => {
    const response = await hg.request('GET', `${M}/${app.appCode}/${app.eventCode}?user_code=user-a`, {
      token: jwt,
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().error.issues.map((i: { path: string }) => i.path)).toEqual([
      'querystring.user_code',
    ])
    const head = await hg.runtime.telemetry.head()
    const posted = await hg.request('POST', `${M}/${app.appCode}?topic=analytics-data.raw`, {
      token: app.apiToken,
      body: message({ user: 'user-a', eventName: 'number_of_product_views' }),
    })
    expect(posted.statusCode).toBe(400)
    expect(await hg.runtime.telemetry.head()).toBe(head)
  })
})
