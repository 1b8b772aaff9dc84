import {
  authenticateFirst,
  authenticateUser,
  credentialsRoute,
  type Person,
  sourceOfKeyInBody,
} from '@hourglass/control'
import { errors, FreeFormObject, trimmedName } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { appendStoreEvent, type StoreWriteDeps, storeForApiKey } from '../people/storeWriteRoutes.ts'

/** The seed sends phones as integers; a leading + or zero needs a string, which is accepted too. */
const CompatPhone = z
  .union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\+?\d{3,20}$/)], {
    error: 'must be a phone number (digits)',
  })
  .transform(String)
const compatPhone = (phone: string) => (/^[1-9]\d{0,14}$/.test(phone) ? Number(phone) : phone)

const CompatPerson = z.object({
  email: z.email({ error: 'must be an e-mail address' }).max(254),
  username: trimmedName(100),
  first_name: trimmedName(100),
  last_name: trimmedName(100),
  phone: CompatPhone,
})
const toFields = (body: z.infer<typeof CompatPerson>) => ({
  email: body.email,
  username: body.username,
  firstName: body.first_name,
  lastName: body.last_name,
  phone: body.phone,
})
const compatPerson = (person: Person, storeNumber: number) => ({
  id: person.personId,
  email: person.email,
  username: person.username,
  first_name: person.firstName,
  last_name: person.lastName,
  phone: compatPhone(person.phone),
  store_id: storeNumber,
})

const Message = z.object({ message: z.string() })
/** Optional: the gateway of the original fills it in from the access token, as here. */
const StoreNumber = z.number({ error: 'must be the integer id of this store' }).int().optional()
const checkStoreNumber = (given: number | undefined, store: { number: number }) => {
  if (given !== undefined && given !== store.number)
    throw errors.forbidden('store_id is not the store of this token')
}

/**
 * Store user statistics (seed 001), write side: store authentication, people and events.
 * `store_id` is the store's integer number (see `GET /api/store/`).
 */
export const storeStatsCompatWrites: FastifyPluginAsync<StoreWriteDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const tags = ['compat: store-stats']
  const account = authenticateFirst((request) => authenticateUser(deps.userTokens, request))
  const storeOf = authenticateFirst(deps.access.authenticate)

  app.post(
    '/api/auth/',
    {
      config: credentialsRoute(sourceOfKeyInBody('api_key')),
      schema: {
        tags,
        summary: "Exchange a store's API key for a bearer access token (15 minutes)",
        body: z.object({ api_key: z.string().min(1).max(200) }),
        response: { 200: z.object({ access_token: z.string(), token_type: z.literal('Bearer') }) },
      },
    },
    async (request) => {
      const store = await storeForApiKey(deps, request.body.api_key)
      return { access_token: await deps.access.issue(store), token_type: 'Bearer' as const }
    },
  )

  app.get(
    '/api/user/:user_email',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: 'The id of the person with this e-mail',
        params: z.object({ user_email: z.email({ error: 'must be an e-mail address' }) }),
        response: { 200: z.object({ id: z.string() }) },
      },
    },
    async (request) => {
      const store = await storeOf(request)
      const person = await deps.registry.findByEmail(store.storeId, request.params.user_email)
      if (!person) throw errors.notFound('the user')
      return { id: person.personId }
    },
  )

  app.post(
    '/api/user/',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: 'Register a user of the store (personal fields stored encrypted)',
        body: CompatPerson,
        response: {
          201: z.object({
            id: z.string(),
            email: z.string(),
            username: z.string(),
            first_name: z.string(),
            last_name: z.string(),
            phone: z.union([z.number(), z.string()]),
            store_id: z.number(),
          }),
        },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      const person = await deps.registry.register(store, toFields(request.body))
      return reply.code(201).send(compatPerson(person, store.number))
    },
  )

  app.patch(
    '/api/user/',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: 'Update the user with this e-mail (the e-mail itself identifies them)',
        body: CompatPerson.extend({ store_id: StoreNumber }),
        response: { 201: Message },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      checkStoreNumber(request.body.store_id, store)
      const person = await deps.registry.findByEmail(store.storeId, request.body.email)
      if (!person) throw errors.notFound('the user')
      await deps.registry.update(store.storeId, person.personId, toFields(request.body))
      return reply.code(201).send({ message: 'User successfully updated' })
    },
  )

  app.delete(
    '/api/user/:user_id',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: 'Erase a user: their personal fields become unreadable and their events are removed',
        description:
          'The personal fields are unreadable at once (their key is destroyed). The answer waits for the events ' +
          'to leave the statistics; distributed mode bounds that wait, so they may follow shortly after it.',
        params: z.object({ user_id: z.uuid({ error: 'must be a user id' }) }),
        response: { 200: Message },
      },
    },
    async (request) => {
      const store = await storeOf(request)
      const personId = request.params.user_id
      await deps.erasureReport({ position: await deps.registry.erase(store.storeId, personId), personId })
      return { message: 'User successfully deleted' }
    },
  )

  app.post(
    '/api/event/',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: 'Record an event of a user of the store',
        body: z.object({
          type: trimmedName(100),
          store_id: StoreNumber,
          user_id: z.uuid({ error: 'must be the id of a user of this store' }),
          data: FreeFormObject.default({}),
        }),
        response: {
          201: z.object({
            id: z.number(),
            type: z.string(),
            store_id: z.number(),
            user_id: z.string(),
            data: z.record(z.string(), z.unknown()),
            created_at: z.string(),
          }),
        },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      checkStoreNumber(request.body.store_id, store)
      const { position, event } = await appendStoreEvent(deps, store, {
        type: request.body.type,
        userId: request.body.user_id,
        data: request.body.data,
      })
      return reply.code(201).send({
        id: position,
        type: event.type,
        store_id: store.number,
        user_id: event.personId,
        data: event.data,
        created_at: new Date(event.timestamp).toISOString(),
      })
    },
  )

  app.delete(
    '/api/event/:user_id',
    {
      onRequest: storeOf.onRequest,
      schema: {
        tags,
        summary: "Erase a user's events recorded so far",
        description:
          '200 with the number of events deleted; 202 when the projections had not removed them within the wait ' +
          '(distributed mode bounds it): the erasure is recorded and the events follow shortly.',
        params: z.object({ user_id: z.uuid({ error: 'must be a user id' }) }),
        response: { 200: Message, 202: Message },
      },
    },
    async (request, reply) => {
      const store = await storeOf(request)
      const personId = request.params.user_id
      const position = await deps.registry.eraseEvents(store.storeId, personId)
      const erased = await deps.erasureReport({ position, personId })
      if (erased === null) return reply.code(202).send({ message: 'The events are being deleted' })
      return { message: `${erased} events were deleted` }
    },
  )

  app.get(
    '/api/store/',
    {
      onRequest: account.onRequest,
      schema: {
        tags,
        summary: "The account's stores (account token: the admin)",
        description:
          'In the order of their ids. `offset` (stores to skip) and `limit` (most stores) page it as the original ' +
          'did; without `limit`, every store.',
        querystring: z.strictObject({
          offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
          limit: z.coerce.number().int().min(1).max(1_000_000).optional(),
        }),
        response: { 200: z.array(z.object({ id: z.number(), name: z.string(), is_active: z.boolean() })) },
      },
    },
    async (request) => {
      const { accountId } = await account(request)
      const { offset, limit } = request.query
      const stores = [...(await deps.registry.storesOf(accountId))].sort((a, b) => a.number - b.number)
      return stores.slice(offset, limit === undefined ? undefined : offset + limit).map((s) => ({
        id: s.number,
        name: s.name,
        is_active: s.isActive,
      }))
    },
  )
}
