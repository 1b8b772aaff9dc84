/**
 * Demo data for the dashboard, sent through Hourglass's own HTTP API as producers would send
 * it: an app with 20 event names and a defined event, a store, a café (place) and a fleet of
 * sensors, over the last `days` days. Deterministic for a given `now` (seeded random numbers).
 */
import { seededRandom } from '@hourglass/projections/seededRandom'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

export const APP_EVENT_NAMES = [
  'screen_view',
  'app_open',
  'search',
  'product_view',
  'add_to_cart',
  'purchase',
  'remove_from_cart',
  'share',
  'login',
  'logout',
  'push_open',
  'review',
  'wishlist_add',
  'filter_apply',
  'checkout_start',
  'payment_info',
  'coupon_apply',
  'settings_open',
  'error_shown',
  'rate_app',
] as const

/** People are busier in the day than at night (hour of day in UTC). */
const dailyShape = (time: number) => {
  const hour = new Date(time).getUTCHours()
  return 0.25 + Math.max(0, Math.sin(((hour - 6) / 24) * 2 * Math.PI)) * 1.1
}

export class HttpClient {
  constructor(readonly baseUrl: string) {}

  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    })
    const text = await response.text()
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 500)}`)
    return JSON.parse(text) as T
  }
}

/** Runs `work` over items, `concurrency` at a time. */
async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>) {
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!)
    }),
  )
}

export interface DemoAccount {
  readonly email: string
  readonly password: string
  readonly token: string
}

export async function signUp(client: HttpClient, email: string, password = 'correct horse battery') {
  const { token } = await client.call<{ token: string }>('POST', '/v1/auth/signup', {
    body: { email, password, name: email.split('@')[0] },
  })
  return { email, password, token }
}

export async function createSource(client: HttpClient, token: string, kind: string, name: string) {
  return client.call<{ id: string; apiToken: string }>('POST', '/v1/sources', { token, body: { kind, name } })
}

/** Generic events of an app: 20 names, a few hundred users, sessions per user and day. */
export function appEvents(options: { now: number; days: number; perHour: number; seed?: number }) {
  const random = seededRandom(options.seed ?? 1)
  const products = ['resistor', 'capacitor', 'led', 'battery', 'cable', 'switch']
  const events: Record<string, unknown>[] = []
  const end = Math.floor(options.now / HOUR_MS) * HOUR_MS
  for (let hour = end - options.days * DAY_MS; hour <= end; hour += HOUR_MS) {
    const count = Math.round(options.perHour * dailyShape(hour) * (0.7 + random() * 0.6))
    for (let i = 0; i < count; i++) {
      // Name i is about 1/(i+1) as frequent as the first: a long tail, as in real apps.
      const weights = APP_EVENT_NAMES.map((_, k) => 1 / (k + 1))
      let pick = random() * weights.reduce((a, b) => a + b, 0)
      let index = 0
      while (pick > weights[index]!) pick -= weights[index++]!
      const name = APP_EVENT_NAMES[Math.min(index, APP_EVENT_NAMES.length - 1)]!
      const user = `user-${1 + Math.floor(random() ** 1.5 * 300)}`
      const timestamp = Math.min(options.now - 1000, hour + Math.floor(random() * HOUR_MS))
      events.push({
        name,
        timestamp,
        subject: user,
        session: `${user}-${new Date(timestamp).toISOString().slice(0, 10)}`,
        attrs:
          name === 'purchase'
            ? {
                product: products[Math.floor(random() * products.length)]!,
                quantity: 1 + Math.floor(random() * 5),
              }
            : { screen: ['home', 'catalog', 'cart', 'profile'][Math.floor(random() * 4)]! },
      })
    }
  }
  return events
}

export async function sendEvents(
  client: HttpClient,
  apiToken: string,
  events: readonly Record<string, unknown>[],
) {
  const batches: Record<string, unknown>[][] = []
  for (let i = 0; i < events.length; i += 1000) batches.push(events.slice(i, i + 1000))
  await inParallel(batches, 2, (batch) =>
    client.call('POST', '/v1/events', { token: apiToken, body: { events: batch } }),
  )
}

/** An app with a defined `purchase` event (per-user statistics) and a month of events. */
export async function loadApp(
  client: HttpClient,
  token: string,
  options: { now: number; days: number; perHour: number },
) {
  const app = await createSource(client, token, 'app', 'electronics-shop')
  await client.call('POST', `/v1/sources/${app.id}/event-definitions`, {
    token,
    body: {
      events: [
        {
          name: 'purchase',
          attrs: [
            { name: 'product', type: 'string' },
            { name: 'quantity', type: 'integer' },
          ],
        },
      ],
    },
  })
  await sendEvents(client, app.apiToken, appEvents(options))
  return app
}

/** A store with people and their events: logins, views, carts and checkouts with durations. */
export async function loadStore(client: HttpClient, token: string, options: { now: number; days: number }) {
  const random = seededRandom(2)
  const store = await client.call<{ id: string; apiKey: string }>('POST', '/v1/stores', {
    token,
    body: { name: 'Corner store' },
  })
  const { accessToken } = await client.call<{ accessToken: string }>('POST', '/v1/stores/auth', {
    body: { apiKey: store.apiKey },
  })
  const people: string[] = []
  for (let i = 1; i <= 12; i++) {
    const person = await client.call<{ id: string }>('POST', '/v1/people', {
      token: accessToken,
      body: {
        email: `shopper${i}@example.com`,
        username: `shopper${i}`,
        firstName: 'Demo',
        lastName: `Shopper ${i}`,
        phone: `+1 555 010${String(i).padStart(2, '0')}`,
      },
    })
    people.push(person.id)
  }
  const types = [
    { type: 'login', perDay: 5, duration: null },
    { type: 'view_product', perDay: 8, duration: 45 },
    { type: 'add_to_cart', perDay: 4, duration: 12 },
    { type: 'checkout', perDay: 2, duration: 95 },
  ]
  const events: Record<string, unknown>[] = []
  const start = Math.floor(options.now / DAY_MS) * DAY_MS - (options.days - 1) * DAY_MS
  for (let day = start; day < options.now; day += DAY_MS) {
    for (const t of types) {
      const count = Math.round(t.perDay * (0.6 + random() * 0.8))
      for (let i = 0; i < count; i++) {
        const timestamp = Math.min(options.now - 1000, day + Math.floor(random() * DAY_MS))
        events.push({
          type: t.type,
          userId: people[Math.floor(random() * people.length)]!,
          timestamp,
          data: t.duration === null ? {} : { duration: Math.round(t.duration * (0.5 + random())) },
        })
      }
    }
  }
  await inParallel(events, 8, (body) => client.call('POST', '/v1/store-events', { token: accessToken, body }))
  return { id: store.id, accessToken }
}

/** A café's receipts: a few categories, card and cash, VAT and tips. */
export async function loadPlace(client: HttpClient, token: string, options: { now: number; days: number }) {
  const random = seededRandom(3)
  const place = await createSource(client, token, 'place', 'Café Central')
  const menu = [
    { product: 'espresso', category: 'coffee', price: 2.5 },
    { product: 'cappuccino', category: 'coffee', price: 3.4 },
    { product: 'croissant', category: 'bakery', price: 2.2 },
    { product: 'bagel', category: 'bakery', price: 2.9 },
    { product: 'club-sandwich', category: 'sandwiches', price: 7.5 },
    { product: 'lemonade', category: 'drinks', price: 3.1 },
    { product: 'cheesecake', category: 'desserts', price: 4.6 },
  ]
  const receipts: Record<string, unknown>[] = []
  const end = Math.floor(options.now / HOUR_MS) * HOUR_MS
  let n = 0
  for (let hour = end - options.days * DAY_MS; hour <= end; hour += HOUR_MS) {
    const local = new Date(hour).getUTCHours()
    if (local < 7 || local > 20) continue
    const count = Math.round(dailyShape(hour) * 4 * random())
    for (let i = 0; i < count; i++) {
      const items = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const item = menu[Math.floor(random() * menu.length)]!
        return {
          product_id: item.product,
          category: item.category,
          quantity: 1 + Math.floor(random() * 2),
          price: item.price,
        }
      })
      const cents = items.reduce((sum, item) => sum + item.quantity * Math.round(item.price * 100), 0)
      receipts.push({
        transaction_id: `demo-${++n}`,
        timestamp: new Date(
          Math.min(options.now - 1000, hour + Math.floor(random() * HOUR_MS)),
        ).toISOString(),
        items,
        total_amount: (cents / 100).toFixed(2),
        nds_amount: ((cents * 0.2) / 100).toFixed(2),
        tips_amount: (random() < 0.4 ? Math.round(cents * 0.1) / 100 : 0).toFixed(2),
        payment_method: random() < 0.7 ? 'card' : 'cash',
        place_id: 'cafe-1',
        place_name: 'Café Central',
      })
    }
  }
  await inParallel(receipts, 8, (body) =>
    client.call('POST', '/v1/receipts', { token: place.apiToken, body }),
  )
  return place
}

/** A fleet of sensors reporting temperature and humidity every 15 minutes. */
export async function loadFleet(client: HttpClient, token: string, options: { now: number; days: number }) {
  const random = seededRandom(4)
  const fleet = await createSource(client, token, 'device', 'Greenhouse sensors')
  const devices = ['sensor-north', 'sensor-south', 'sensor-east', 'sensor-west']
  const start = options.now - options.days * DAY_MS
  for (const device of devices) {
    await client.call('PUT', `/v1/sources/${fleet.id}/devices/${device}/owner`, {
      token,
      body: { userId: null, effectiveFrom: start - DAY_MS },
    })
  }
  const readings: Record<string, unknown>[] = []
  const step = 15 * 60_000
  for (let time = Math.ceil(start / step) * step; time < options.now; time += step) {
    devices.forEach((device, d) => {
      const daily = Math.sin(((new Date(time).getUTCHours() - 9) / 24) * 2 * Math.PI)
      readings.push({
        deviceId: device,
        timestamp: time,
        id: `${device}-${time}`,
        metrics: {
          temperature: Math.round((21 + d * 0.8 + daily * 4 + (random() - 0.5) * 3) * 10) / 10,
          humidity: Math.round((55 - daily * 10 + (random() - 0.5) * 8) * 10) / 10,
        },
      })
    })
  }
  const batches: Record<string, unknown>[][] = []
  for (let i = 0; i < readings.length; i += 1000) batches.push(readings.slice(i, i + 1000))
  await inParallel(batches, 2, (batch) =>
    client.call('POST', '/v1/readings', { token: fleet.apiToken, body: { readings: batch } }),
  )
  return fleet
}
