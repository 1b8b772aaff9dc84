import type { FastifyInstance } from 'fastify'
import { ctaClick, metricaMessage, PRODUCT_VIEWS, TRACKING_PLAN } from '../harness/featureFlows.ts'
import { seedReceipt } from '../harness/receiptFixtures.ts'
import type { FuzzRoute } from './openApiRoutes.ts'

/**
 * What the fuzzer writes against: an account with a source of every kind, a store with people,
 * a device fleet with a user and a bound device, a member with the analyst role, a Metrica app
 * and a The Eye session. Every route then has credentials that pass and ids that exist, so that
 * hostile inputs reach deep validation, not only the first check.
 */
export interface FuzzWorld {
  /** Every credential the world holds, as `Authorization` header values ('' for none). */
  readonly authorizations: readonly string[]
  /** A valid body for the route where the world knows one (else null: the schema's sample stands). */
  validBody(route: FuzzRoute): unknown
  /** A value of a path parameter that exists in the world, where it knows one. */
  pathValue(route: FuzzRoute, name: string): string | undefined
  /** Query parameters the route needs to answer at all. */
  validQuery(route: FuzzRoute): Record<string, string>
}

interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** One request of the setup; it must succeed. */
async function setupCall(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  authorization: string,
  body?: unknown,
): Promise<Answer> {
  const response = await app.inject({
    method,
    url,
    headers: {
      ...(authorization ? { authorization } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  })
  if (response.statusCode >= 300)
    throw new Error(`fuzz setup: ${method} ${url} answered ${response.statusCode}: ${response.body}`)
  return { status: response.statusCode, body: response.json() }
}

const PASSWORD = 'correct horse battery'
/** People and members that routes which erase or revoke may take, one each: the others keep theirs. */
const SPARES = 6

export async function createFuzzWorld(app: FastifyInstance): Promise<FuzzWorld> {
  let unique = 0
  const next = () => `${Date.now().toString(36)}-${(unique++).toString(36)}`
  const call = (method: 'GET' | 'POST' | 'PUT', url: string, authorization: string, body?: unknown) =>
    setupCall(app, method, url, authorization, body)
  const text = (answer: Answer, key: string) => String(answer.body[key])

  const email = `fuzz-${next()}@example.org`
  const signup = await call('POST', '/v1/auth/signup', '', { email, password: PASSWORD, name: 'Fuzz' })
  const account = `Bearer ${text(signup, 'token')}`
  const accountId = text(signup, 'accountId')
  const source = async (kind: string) => {
    const created = await call('POST', '/v1/sources', account, { kind, name: `fuzz-${kind}-${next()}` })
    return { id: text(created, 'id'), token: `Bearer ${text(created, 'apiToken')}` }
  }
  const appSource = await source('app')
  const spareApp = await source('app')
  const place = await source('place')
  const fleet = await source('device')
  const plan = await call('POST', `/v1/sources/${appSource.id}/event-definitions`, account, TRACKING_PLAN)
  const eventCode = String((plan.body.definitions as { eventCode: string }[])[0]!.eventCode)
  const seedEvent = `fuzz-seed-${next()}`
  await call('POST', '/v1/events', appSource.token, {
    events: [{ id: seedEvent, name: 'view', timestamp: Date.now() - 60_000 }],
  })

  const deviceUser = await call('POST', `/v1/sources/${fleet.id}/device-users`, account, {
    name: `fuzz-user-${next()}`,
    password: PASSWORD,
  })
  const deviceUserId = text(deviceUser, 'id')
  await call('PUT', `/v1/sources/${fleet.id}/devices/dev-1/owner`, account, { userId: deviceUserId })
  const deviceUserBasic = `Basic ${Buffer.from(`${deviceUserId}:${PASSWORD}`).toString('base64')}`

  const store = async () => {
    const created = await call('POST', '/v1/stores', account, { name: `fuzz-store-${next()}` })
    const auth = await call('POST', '/v1/stores/auth', '', { apiKey: text(created, 'apiKey') })
    return {
      id: text(created, 'id'),
      number: Number(created.body.number),
      apiKey: text(created, 'apiKey'),
      token: `Bearer ${text(auth, 'accessToken')}`,
    }
  }
  const mainStore = await store()
  const spareStore = await store()
  const personFields = () => ({
    email: `person-${next()}@example.org`,
    username: `person_${next()}`,
    firstName: 'Ann',
    lastName: 'Lee',
    phone: '+351 912 345 678',
  })
  const register = async () => {
    const fields = personFields()
    const created = await call('POST', '/v1/people', mainStore.token, fields)
    return { id: text(created, 'id'), fields }
  }
  const person = await register()
  const sparePeople: string[] = []
  for (let i = 0; i < SPARES; i++) sparePeople.push((await register()).id)

  const member = async () => {
    const username = `member_${next().replace(/-/g, '_')}`
    const created = await call('POST', '/v1/auth/members', '', { username, password: PASSWORD })
    await call('PUT', `/v1/account/analysts/${username}`, account)
    return { username, token: text(created, 'token') }
  }
  const analyst = await member()
  const spareMembers: string[] = []
  for (let i = 0; i < SPARES; i++) spareMembers.push((await member()).username)

  const metricaSignup = await call('POST', '/compat/metrica/auth/signup', '', {
    name: 'Ana',
    surname: 'Lima',
    email: `metrica-${next()}@example.org`,
    password: PASSWORD,
    phone: '+351 912 345 678',
  })
  const metricaUser = `Bearer ${text(metricaSignup, 'jwt_token')}`
  const metricaApp = await call('POST', '/compat/metrica/app/create', metricaUser, { app_name: 'fuzz' })
  const appCode = text(metricaApp, 'app_code')
  const metricaToken = `Bearer ${text(metricaApp, 'api_token')}`
  const defined = await call(
    'POST',
    `/compat/metrica/app/create_event/${appCode}`,
    metricaUser,
    PRODUCT_VIEWS,
  )
  const metricaEventCode = text(defined, 'event_code')

  const eyeAuth = await call('POST', '/compat/the-eye/api-token-auth/', '', {
    username: email,
    password: PASSWORD,
  })
  const eye = `Token ${text(eyeAuth, 'token')}`
  const eyeSession = text(await call('POST', '/compat/the-eye/sessions/', eye), 'id')
  const eyeEvent = await call('POST', '/compat/the-eye/events/', eye, {
    ...ctaClick(eyeSession),
    timestamp: new Date(Date.now() - 60_000).toISOString(),
  })

  /** Each call takes the next spare; past the last, the last again (by then a 404: it is gone). */
  const spare = (list: readonly string[], taken: { n: number }) => list[Math.min(taken.n++, list.length - 1)]!
  const sparePeopleTaken = { n: 0 }
  const spareMembersTaken = { n: 0 }
  const recently = () => new Date(Date.now() - 60_000).toISOString()
  const receipt = () => ({ ...seedReceipt(), transaction_id: `fuzz-tx-${next()}`, timestamp: recently() })

  const bodies: Record<string, () => unknown> = {
    'POST /v1/auth/signup': () => ({ email: `fuzz-${next()}@example.org`, password: PASSWORD, name: 'Fuzz' }),
    'POST /v1/auth/signin': () => ({ email, password: PASSWORD }),
    'POST /v1/sources': () => ({ kind: 'app', name: `fuzz-${next()}` }),
    'POST /v1/events': () => ({
      events: [
        {
          id: `fuzz-${next()}`,
          name: 'view',
          timestamp: recently(),
          subject: 'u-1',
          attrs: { screen: 'home' },
        },
        {
          name: 'product_view',
          timestamp: Date.now() - 1000,
          subject: 'u-2',
          attrs: { product: 'sku-1', quantity: 2, price: 9.99, logged_in: true },
        },
      ],
    }),
    'POST /v1/stores': () => ({ name: `fuzz-store-${next()}` }),
    'PATCH /v1/stores/{id}': () => ({ isActive: true }),
    'POST /v1/stores/auth': () => ({ apiKey: mainStore.apiKey }),
    'POST /v1/people': personFields,
    'PATCH /v1/people/{id}': () => person.fields,
    'POST /v1/store-events': () => ({ type: 'view', userId: person.id, data: { duration: 1.5, page: '/' } }),
    'POST /compat/store-stats/api/auth': () => ({ api_key: mainStore.apiKey }),
    'POST /compat/store-stats/api/user': () => ({
      email: `compat-${next()}@example.org`,
      username: 'bob',
      first_name: 'Bob',
      last_name: 'Ray',
      phone: 79161234567,
    }),
    'PATCH /compat/store-stats/api/user': () => ({
      email: person.fields.email,
      username: person.fields.username,
      first_name: person.fields.firstName,
      last_name: person.fields.lastName,
      phone: 79161234567,
      store_id: mainStore.number,
    }),
    'POST /compat/store-stats/api/event': () => ({
      type: 'view',
      store_id: mainStore.number,
      user_id: person.id,
      data: { duration: 2 },
    }),
    'POST /v1/receipts': receipt,
    'POST /compat/receipts/api/checks/': receipt,
    'POST /compat/receipts/api/add_checks/': receipt,
    'POST /v1/auth/members': () => ({ username: `member_${next().replace(/-/g, '_')}`, password: PASSWORD }),
    'POST /v1/auth/members/signin': () => ({ username: analyst.username, password: PASSWORD }),
    'POST /compat/receipts/auth/registration/': () => ({
      username: `member_${next().replace(/-/g, '_')}`,
      password1: PASSWORD,
      password2: PASSWORD,
    }),
    'POST /compat/receipts/auth/login/': () => ({ username: analyst.username, password: PASSWORD }),
    'POST /v1/sources/{id}/device-users': () => ({ name: `fuzz-user-${next()}`, password: PASSWORD }),
    'PUT /v1/sources/{id}/devices/{deviceId}/owner': () => ({ userId: deviceUserId }),
    'POST /v1/readings': () => ({
      readings: [
        { id: `fuzz-${next()}`, deviceId: 'dev-1', timestamp: recently(), metrics: { t: 21.5, rh: 40 } },
      ],
    }),
    'POST /compat/devices/users': () => ({ username: `fuzz-user-${next()}`, password: PASSWORD }),
    'POST /compat/devices/stats/{device_id}': () => ({ id: `fuzz-${next()}`, x: 1.5, y: 2, z: -3 }),
    'PUT /v1/sources/{id}/settings': () => ({ undefinedEvents: 'accept' }),
    'POST /v1/sources/{id}/event-definitions': () => ({
      events: [{ name: `fuzz-${next()}`, attrs: [{ name: 'key', type: 'string' }] }],
    }),
    'POST /v1/sources/{id}/sessions': () => ({ id: `fuzz-${next()}` }),
    'POST /v1/sessions': () => ({ id: `fuzz-${next()}` }),
    'POST /compat/metrica/auth/signup': () => ({
      name: 'Ana',
      surname: 'Lima',
      email: `metrica-${next()}@example.org`,
      password: PASSWORD,
      phone: '+351 912 345 678',
    }),
    'POST /compat/metrica/auth/signin': () => ({ email, password: PASSWORD }),
    'POST /compat/metrica/app/create': () => ({ app_name: `fuzz-${next()}` }),
    'POST /compat/metrica/app/create_event/{app_code}': () => PRODUCT_VIEWS,
    'POST /compat/metrica/{app_code}': () => metricaMessage('u-1', 'sku-1', 2, { id: `fuzz-${next()}` }),
    'POST /compat/the-eye/api-token-auth/': () => ({ username: email, password: PASSWORD }),
    'POST /compat/the-eye/events/': () => ctaClick(eyeSession, { timestamp: recently() }),
  }

  /** The source a `/v1/sources/{id}/...` route is about: a fleet's, a store's, or an app's. */
  const sourceOf = (route: FuzzRoute) => {
    if (/\/device/.test(route.template)) return fleet.id
    if (route.template.includes('/store-stats/')) return mainStore.id
    if (route.template.endsWith('/settings') && route.method === 'PUT') return spareApp.id
    return appSource.id
  }

  return {
    authorizations: [
      account,
      appSource.token,
      place.token,
      fleet.token,
      mainStore.token,
      `Bearer ${analyst.token}`,
      `Token ${analyst.token}`,
      metricaUser,
      metricaToken,
      eye,
      deviceUserBasic,
      '',
    ],
    validBody: (route) => bodies[route.key]?.() ?? null,
    pathValue(route, name) {
      const { template, method } = route
      switch (name) {
        case 'id':
          if (template.startsWith('/v1/sources/')) return sourceOf(route)
          if (template.startsWith('/v1/stores/')) return spareStore.id
          if (template.startsWith('/v1/people/'))
            return method === 'DELETE' ? spare(sparePeople, sparePeopleTaken) : person.id
          if (template.startsWith('/compat/the-eye/')) return String(eyeEvent.body.id)
          return undefined
        case 'deviceId':
        case 'device_id':
          return 'dev-1'
        case 'userId':
          return deviceUserId
        case 'user_id':
          return template.startsWith('/compat/devices/') ? deviceUserId : spare(sparePeople, sparePeopleTaken)
        case 'user_email':
          return person.fields.email
        case 'username':
          return method === 'DELETE' ? spare(spareMembers, spareMembersTaken) : analyst.username
        case 'eventCode':
          return eventCode
        case 'event_code':
          return metricaEventCode
        case 'app_code':
          return appCode
        case 'eventId':
          return seedEvent
        case 'type':
        case 'event_type':
          return 'view'
        case 'store_id':
          return String(mainStore.number)
        case 'place_id':
          return seedReceipt().place_id
        default:
          return undefined
      }
    },
    validQuery(route) {
      const names = new Set(route.queryParams.map((p) => p.name))
      return {
        ...(names.has('email') ? { email: person.fields.email } : {}),
        ...(names.has('account') ? { account: accountId } : {}),
      }
    },
  }
}
