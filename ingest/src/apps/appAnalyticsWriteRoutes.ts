import {
  authenticateFirst,
  authenticateSourceRequest,
  authenticateUser,
  type ControlPlane,
  creationRoute,
  type EventDefinition,
  type Session,
  type Source,
} from '@hourglass/control'
import {
  AttrType,
  EventDefinitionInput,
  errors,
  producerId,
  SourceParams,
  SourceSettings,
  statisticsAttributes,
} from '@hourglass/schemas'
import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { IngestDeps } from '../ingestRoutes.ts'

/** Most definitions in one request. */
export const MAX_DEFINITIONS_PER_REQUEST = 100

export const DefinitionView = z.object({
  eventCode: z.string(),
  name: z.string(),
  attrs: z.array(z.object({ name: z.string(), type: AttrType })),
  /** The attribute whose values key per-user statistics, and the one they sum. */
  statistics: z.object({ keyAttribute: z.string().nullable(), amountAttribute: z.string().nullable() }),
  definedAt: z.string(),
})
export const definitionView = (definition: EventDefinition): z.infer<typeof DefinitionView> => {
  const { keyAttr, amountAttr } = statisticsAttributes(definition.attrs)
  return {
    eventCode: definition.eventCode,
    name: definition.name,
    attrs: definition.attrs.map(({ name, type }) => ({ name, type })),
    statistics: { keyAttribute: keyAttr, amountAttribute: amountAttr },
    definedAt: new Date(definition.definedAt).toISOString(),
  }
}

/** A batch of definitions: names must be unique within it. */
export const DefinitionsBody = z
  .array(EventDefinitionInput)
  .min(1, { error: 'must hold at least one event' })
  .max(MAX_DEFINITIONS_PER_REQUEST, { error: `must hold at most ${MAX_DEFINITIONS_PER_REQUEST} events` })
  .check((ctx) => {
    const seen = new Set<string>()
    ctx.value.forEach((event, index) => {
      if (seen.has(event.name))
        ctx.issues.push({
          code: 'custom',
          path: [index, 'name'],
          message: `"${event.name}" appears twice in this request`,
          input: event.name,
        })
      seen.add(event.name)
    })
  })

const SessionView = z.object({ id: z.string(), startedAt: z.string() })
const sessionView = (session: Session) => ({
  id: session.sessionId,
  startedAt: new Date(session.startedAt).toISOString(),
})
const SessionBody = z.strictObject({ id: producerId(200).optional() }).nullish()

const SessionCursor = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const offset = Number(Buffer.from(value, 'base64url').toString('utf8'))
    if (!Number.isSafeInteger(offset) || offset < 0) {
      ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' })
      return z.NEVER
    }
    return offset
  })

/**
 * Lets a POST without a body through although it says `Content-Type: application/json`
 * (as `curl -X POST -H 'Content-Type: application/json'` does): there is nothing to parse.
 */
export const allowEmptyJsonBody: onRequestHookHandler = (request, _reply, done) => {
  const { headers } = request
  if (
    headers['transfer-encoding'] === undefined &&
    (headers['content-length'] === undefined || headers['content-length'] === '0')
  ) {
    delete headers['content-type']
  }
  done()
}

/** The source, when the account owns it; otherwise a 404 that says nothing more. */
export const ownedSource = async (controlPlane: ControlPlane, accountId: string, sourceId: string) => {
  const source = await controlPlane.findOwned(accountId, sourceId)
  if (!source) throw errors.notFound('the source')
  return source
}

/** Routes of the account's own sources: the account a request's token speaks for, and its source by id (404 otherwise). */
export const accountSources = ({
  controlPlane,
  userTokens,
}: Pick<IngestDeps, 'controlPlane' | 'userTokens'>) => {
  const account = authenticateFirst((request) => authenticateUser(userTokens, request))
  const owned = async (request: FastifyRequest, sourceId: string) =>
    ownedSource(controlPlane, (await account(request)).accountId, sourceId)
  return { account, owned }
}

/** Native app analytics, write side: tracking plans, source settings, API tokens and sessions. */
export const appAnalyticsWriteRoutes: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { controlPlane } = deps
  const { account, owned } = accountSources(deps)
  const producer = authenticateFirst((request) => authenticateSourceRequest(controlPlane, request))

  app.get(
    '/v1/sources/:id/settings',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['tracking plan'],
        summary: 'How the source treats undefined events and unknown sessions',
        params: SourceParams,
        response: { 200: SourceSettings },
      },
    },
    async (request) => {
      const source = await owned(request, request.params.id)
      return controlPlane.apps.settings(source.sourceId)
    },
  )

  app.put(
    '/v1/sources/:id/settings',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['tracking plan'],
        summary: 'Make the source strict or open',
        description: [
          '`undefinedEvents`: `reject` refuses events whose name the tracking plan does not define (a strict',
          'source); `accept` takes them unchecked (open, the default). `unknownSessions`: `reject` refuses events',
          'naming a session not created through the sessions API; `accept` (the default) takes any session.',
          'Events of a defined name are always checked against their definition.',
        ].join(' '),
        params: SourceParams,
        body: z.strictObject(SourceSettings.shape).partial(),
        response: { 200: SourceSettings },
      },
    },
    async (request) => {
      const source = await owned(request, request.params.id)
      const settings = await controlPlane.apps.changeSettings(source, request.body)
      request.log.info({ sourceId: source.sourceId, settings }, 'source settings changed')
      return settings
    },
  )

  app.post(
    '/v1/sources/:id/tokens',
    {
      onRequest: account.onRequest,
      config: creationRoute,
      schema: {
        tags: ['sources'],
        summary: 'Issue another API token for the source',
        description:
          'Shown once: only its hash is kept; `tokenId` names it (to list or revoke it). Earlier tokens stay valid. ' +
          'A revoked source gets no new token (403).',
        params: SourceParams,
        response: { 201: z.object({ apiToken: z.string(), tokenId: z.string() }) },
      },
    },
    async (request, reply) => {
      const source = await owned(request, request.params.id)
      const issued = await controlPlane.apps.issueApiToken(source)
      request.log.info({ sourceId: source.sourceId, tokenId: issued.tokenId }, 'source API token issued')
      return reply.code(201).send(issued)
    },
  )

  app.post(
    '/v1/sources/:id/event-definitions',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['tracking plan'],
        summary: 'Define events with typed attributes (a tracking plan)',
        description: [
          'Each event: `name` and `attrs` ([{name, type}], type one of string, integer, number, boolean). Each gets',
          'a stable `eventCode`. From then on ingest refuses an event of that name with an unknown attribute, a',
          'missing one or one of the wrong type. Defining a name again with the same attributes returns its',
          'existing definition; with other attributes it is a 409. All or none of a request are defined.',
        ].join(' '),
        params: SourceParams,
        body: z.strictObject({ events: DefinitionsBody }),
        response: { 201: z.object({ definitions: z.array(DefinitionView) }) },
      },
    },
    async (request, reply) => {
      const source = await owned(request, request.params.id)
      const definitions = await controlPlane.apps.defineEvents(source, request.body.events)
      request.log.info({ sourceId: source.sourceId, events: definitions.length }, 'events defined')
      return reply.code(201).send({ definitions: definitions.map(definitionView) })
    },
  )

  app.get(
    '/v1/sources/:id/event-definitions',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['tracking plan'],
        summary: "The source's event definitions, oldest first",
        params: SourceParams,
        response: { 200: z.object({ definitions: z.array(DefinitionView) }) },
      },
    },
    async (request) => {
      const source = await owned(request, request.params.id)
      return { definitions: (await controlPlane.apps.listDefinitions(source.sourceId)).map(definitionView) }
    },
  )

  const startSession = async (source: Source, id: string | undefined) => {
    // The owner's token does not start sessions of a switched-off store either: it sends nothing.
    if (await controlPlane.isSwitchedOff(source.sourceId)) throw errors.forbidden('this store is inactive')
    return sessionView(await controlPlane.apps.startSession(source, id))
  }

  app.post(
    '/v1/sources/:id/sessions',
    {
      onRequest: [allowEmptyJsonBody, account.onRequest],
      config: creationRoute,
      schema: {
        tags: ['sessions'],
        summary: 'Start a session of the source (with the account token)',
        description: 'The id is random unless the body gives one (`{"id": "..."}`); a taken id is a 409.',
        params: SourceParams,
        body: SessionBody,
        response: { 201: SessionView },
      },
    },
    async (request, reply) => {
      const source = await owned(request, request.params.id)
      return reply.code(201).send(await startSession(source, request.body?.id))
    },
  )

  app.post(
    '/v1/sessions',
    {
      onRequest: [allowEmptyJsonBody, producer.onRequest],
      config: creationRoute,
      schema: {
        tags: ['sessions'],
        summary: 'Start a session (with the source API token, as a producer)',
        description: 'The id is random unless the body gives one (`{"id": "..."}`); a taken id is a 409.',
        body: SessionBody,
        response: { 201: SessionView },
      },
    },
    async (request, reply) => {
      const source = await producer(request)
      return reply.code(201).send(await startSession(source, request.body?.id))
    },
  )

  app.get(
    '/v1/sources/:id/sessions',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['sessions'],
        summary: 'Live sessions of the source in the order they started, a page at a time',
        description:
          'Pass `nextCursor` from one page as `cursor` to get the next; it is null on the last page.',
        params: SourceParams,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: SessionCursor.optional(),
        }),
        response: { 200: z.object({ sessions: z.array(SessionView), nextCursor: z.string().nullable() }) },
      },
    },
    async (request) => {
      const source = await owned(request, request.params.id)
      const { limit, cursor = 0 } = request.query
      const all = await controlPlane.apps.listSessions(source.sourceId)
      const end = cursor + limit
      return {
        sessions: all.slice(cursor, end).map(sessionView),
        nextCursor: end < all.length ? Buffer.from(String(end)).toString('base64url') : null,
      }
    },
  )
}
