import { randomUUID } from 'node:crypto'
import {
  authenticateFirst,
  authenticateUser,
  type ControlPlane,
  creationRoute,
  credentialsRoute,
  type Person,
  STORE_TOKEN_TTL_SECONDS,
  type Store,
  type StoreAccess,
  type StoreRegistry,
  sourceOfKeyInBody,
  type UserTokens,
} from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import {
  EventTime,
  errors,
  FreeFormObject,
  STORE_EVENT,
  type StoreEvent,
  telemetryStream,
  trimmedName,
} from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

export interface StoreWriteDeps {
  readonly telemetry: TelemetryLog
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
  readonly registry: StoreRegistry
  readonly access: StoreAccess
  /**
   * How many events the erasure at this log position removed, once the store-statistics
   * projection has applied it; null when it had not within the wait the deployment allows
   * (distributed mode: the projection workers run apart, and a wait is bounded).
   */
  erasureReport(erasure: ErasureRecorded): Promise<number | null>
}

/** An erasure as the log holds it: its position, and whose it is. */
export interface ErasureRecorded {
  readonly position: number
  readonly personId: string
}

export const PersonFieldsBody = z.strictObject({
  email: z.email({ error: 'must be an e-mail address' }).max(254),
  username: trimmedName(100),
  firstName: trimmedName(100),
  lastName: trimmedName(100),
  phone: z.string().regex(/^\+?[0-9][0-9 ()-]{2,31}$/, {
    error: 'must be a phone number: digits, spaces, ( ) - and a leading +',
  }),
})

export const StoreEventBody = z.object({
  type: trimmedName(100),
  userId: z.uuid({ error: 'must be the id of a person of this store' }),
  data: FreeFormObject.default({}),
  /** When the event happened (ISO-8601 or epoch ms); the time of arrival when absent. */
  timestamp: EventTime.optional(),
})

const StoreView = z.object({ id: z.string(), number: z.number(), name: z.string(), isActive: z.boolean() })
const storeView = (store: Store) => ({
  id: store.storeId,
  number: store.number,
  name: store.name,
  isActive: store.isActive,
})
const PersonView = z.object({
  id: z.string(),
  storeId: z.string(),
  email: z.string(),
  username: z.string(),
  firstName: z.string(),
  lastName: z.string(),
  phone: z.string(),
})
export const personView = (p: Person) => ({
  id: p.personId,
  storeId: p.storeId,
  email: p.email,
  username: p.username,
  firstName: p.firstName,
  lastName: p.lastName,
  phone: p.phone,
})

/** Appends one store event; the person must be a live person of this store. */
export async function appendStoreEvent(
  deps: StoreWriteDeps,
  store: Store,
  input: z.infer<typeof StoreEventBody>,
) {
  if (!(await deps.registry.person(store.storeId, input.userId)))
    throw errors.notFound('the person (user_id)')
  const event: StoreEvent = {
    accountId: store.accountId,
    storeId: store.storeId,
    personId: input.userId,
    type: input.type,
    data: input.data,
    timestamp: input.timestamp ?? Date.now(),
  }
  const [outcome] = await deps.telemetry.appendEvents([
    { stream: telemetryStream(store.storeId), id: randomUUID(), type: STORE_EVENT, data: event },
  ])
  return { position: outcome!.position, event }
}

/** The owner's store, or a 404 whoever else asks. */
export async function ownedStore(deps: StoreWriteDeps, accountId: string, storeId: string) {
  const store = await deps.registry.store(storeId)
  if (!store || store.accountId !== accountId) throw errors.notFound('the store')
  return store
}

/** Stores, the people they know, their events, and erasure. */
export const storeWriteRoutes: FastifyPluginAsync<StoreWriteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const tags = ['stores']
  const account = authenticateFirst((request) => authenticateUser(deps.userTokens, request))
  const storeOf = authenticateFirst(deps.access.authenticate)

  app.post(
    '/v1/stores',
    {
      onRequest: account.onRequest,
      config: creationRoute,
      schema: {
        tags,
        summary: 'Create a store (account token); its API key is shown once',
        body: z.strictObject({ name: trimmedName(200) }),
        response: { 201: StoreView.extend({ apiKey: z.string() }) },
      },
    },
    async (request, reply) => {
      const { accountId } = await account(request)
      const { source, apiToken } = await deps.controlPlane.createSource(accountId, {
        kind: 'store',
        name: request.body.name,
      })
      const store = await deps.registry.store(source.sourceId)
      return reply.code(201).send({ ...storeView(store!), apiKey: apiToken })
    },
  )

  app.get(
    '/v1/stores',
    {
      onRequest: account.onRequest,
      schema: {
        tags,
        summary: "The account's stores",
        response: { 200: z.object({ stores: z.array(StoreView) }) },
      },
    },
    async (request) => {
      const { accountId } = await account(request)
      return { stores: (await deps.registry.storesOf(accountId)).map(storeView) }
    },
  )

  app.patch(
    '/v1/stores/:id',
    {
      onRequest: account.onRequest,
      schema: {
        tags,
        summary: 'Activate or deactivate a store; an inactive store cannot authenticate',
        params: z.object({ id: z.string().max(64) }),
        body: z.strictObject({ isActive: z.boolean() }),
        response: { 200: StoreView },
      },
    },
    async (request) => {
      const { accountId } = await account(request)
      const store = await ownedStore(deps, accountId, request.params.id)
      return storeView(await deps.registry.setActive(store.storeId, request.body.isActive))
    },
  )

  app.post(
    '/v1/stores/auth',
    {
      config: credentialsRoute(sourceOfKeyInBody('apiKey')),
      schema: {
        tags,
        summary: "Exchange a store's API key for a short-lived access token",
        body: z.strictObject({ apiKey: z.string().min(1).max(200) }),
        response: {
          200: z.object({ accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number() }),
        },
      },
    },
    async (request) => {
      const store = await storeForApiKey(deps, request.body.apiKey)
      return {
        accessToken: await deps.access.issue(store),
        tokenType: 'Bearer' as const,
        expiresIn: STORE_TOKEN_TTL_SECONDS,
      }
    },
  )

  const peopleTags = ['people']
  const PersonParams = z.object({ id: z.uuid({ error: 'must be a person id' }) })

  app.post(
    '/v1/people',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: 'Register a person of the store (store token); personal fields are stored encrypted',
        body: PersonFieldsBody,
        response: { 201: PersonView },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      return reply.code(201).send(personView(await deps.registry.register(store, request.body)))
    },
  )

  app.get(
    '/v1/people',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: 'Find a person of the store by e-mail',
        querystring: z.object({ email: z.email({ error: 'must be an e-mail address' }) }),
        response: { 200: PersonView },
      },
    },
    async (request) => {
      const store = await storeOf(request)
      const person = await deps.registry.findByEmail(store.storeId, request.query.email)
      if (!person) throw errors.notFound('the person')
      return personView(person)
    },
  )

  app.get(
    '/v1/people/:id',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: 'A person of the store',
        params: PersonParams,
        response: { 200: PersonView },
      },
    },
    async (request) => {
      const store = await storeOf(request)
      const person = await deps.registry.person(store.storeId, request.params.id)
      if (!person) throw errors.notFound('the person')
      return personView(person)
    },
  )

  app.patch(
    '/v1/people/:id',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: "Replace a person's personal fields",
        params: PersonParams,
        body: PersonFieldsBody,
        response: { 200: PersonView },
      },
    },
    async (request) => {
      const store = await storeOf(request)
      return personView(await deps.registry.update(store.storeId, request.params.id, request.body))
    },
  )

  const ErasureView = z.object({ erasedEvents: z.number().nullable() })
  const ERASURE_ANSWER =
    'Answers 200 with the number of events erased once the projections have removed them and recomputed every ' +
    'hour they touched; or 202 with `erasedEvents: null` when they had not yet within the wait (distributed ' +
    'mode bounds it): the erasure is recorded and the key destroyed, and the events follow shortly.'
  const erasureAnswer = async (reply: FastifyReply, erasure: ErasureRecorded) => {
    const erasedEvents = await deps.erasureReport(erasure)
    return reply.code(erasedEvents === null ? 202 : 200).send({ erasedEvents })
  }

  app.delete(
    '/v1/people/:id',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: 'Erase a person and all their events',
        description: `Appends an erasure to the log and destroys the key of the personal fields. ${ERASURE_ANSWER}`,
        params: PersonParams,
        response: { 200: ErasureView, 202: ErasureView },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      const personId = request.params.id
      return erasureAnswer(reply, { position: await deps.registry.erase(store.storeId, personId), personId })
    },
  )

  app.delete(
    '/v1/people/:id/events',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: peopleTags,
        summary: "Erase a person's events recorded so far (the person stays)",
        description: ERASURE_ANSWER,
        params: PersonParams,
        response: { 200: ErasureView, 202: ErasureView },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      const personId = request.params.id
      const position = await deps.registry.eraseEvents(store.storeId, personId)
      return erasureAnswer(reply, { position, personId })
    },
  )

  app.post(
    '/v1/store-events',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags: ['stores'],
        summary: 'Record an event of a person of the store',
        description:
          '`data` is free-form JSON, except that a numeric `duration` (seconds) feeds the average-time statistic. ' +
          'Do not put personal fields in `data`: events reference people by id only.',
        body: StoreEventBody,
        response: {
          201: z.object({
            id: z.number(),
            type: z.string(),
            storeId: z.string(),
            userId: z.string(),
            data: z.record(z.string(), z.unknown()),
            createdAt: z.string(),
          }),
        },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      const { position, event } = await appendStoreEvent(deps, store, request.body)
      return reply.code(201).send({
        id: position,
        type: event.type,
        storeId: store.storeId,
        userId: event.personId,
        data: event.data,
        createdAt: new Date(event.timestamp).toISOString(),
      })
    },
  )
}

/** The active store an API key belongs to. */
export async function storeForApiKey(
  deps: Pick<StoreWriteDeps, 'controlPlane' | 'registry'>,
  apiKey: string,
) {
  const source = await deps.controlPlane.authenticateSource(apiKey)
  const store = source?.kind === 'store' ? await deps.registry.store(source.sourceId) : null
  if (!store) throw errors.unauthenticated('the API key is not valid')
  if (!store.isActive) throw errors.forbidden('this store is inactive')
  return store
}
