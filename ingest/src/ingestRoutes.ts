import {
  accountInBody,
  authenticateFirst,
  authenticateSourceRequest,
  authenticateUser,
  type ControlPlane,
  creationRoute,
  credentialsRoute,
  principalOf,
  type Source,
  type UserTokens,
} from '@hourglass/control'
import type { TelemetryLog } from '@hourglass/log'
import { errors, HourglassError, SourceKind, SourceParams, trimmedName } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { ownedSource } from './apps/appAnalyticsWriteRoutes.ts'
import { describeResults, EventBatchBody, EventResult, validateEvents } from './eventBatch.ts'

export interface IngestDeps {
  readonly telemetry: TelemetryLog
  readonly controlPlane: ControlPlane
  readonly userTokens: UserTokens
}

/** Serializes a route's answers as they are, for answers the route builds itself from typed values. */
export const plainJson = () => (data: unknown) => JSON.stringify(data)

/** Largest request body for event batches. */
export const EVENTS_BODY_LIMIT = 1024 * 1024

const Email = z.email({ error: 'must be an e-mail address' }).max(254)
const Password = z.string().min(8, { error: 'must be at least 8 characters' }).max(256)
const TokenResponse = z.object({ token: z.string() })

/** The write API: accounts, sources, and events from producers. */
export const ingestRoutes: FastifyPluginAsync<IngestDeps> = async (
  fastify,
  { telemetry, controlPlane, userTokens },
) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const account = authenticateFirst((request) => authenticateUser(userTokens, request))
  const producer = authenticateFirst((request) => authenticateSourceRequest(controlPlane, request))
  const byEmail = credentialsRoute(accountInBody('account', 'email'))

  app.post(
    '/v1/auth/signup',
    {
      config: byEmail,
      schema: {
        tags: ['accounts'],
        summary: 'Create an account',
        body: z.strictObject({ email: Email, password: Password, name: trimmedName(200) }),
        response: { 201: TokenResponse.extend({ accountId: z.string() }) },
      },
    },
    async (request, reply) => {
      const account = await controlPlane.registerAccount(request.body)
      request.log.info({ accountId: account.accountId }, 'account registered')
      return reply.code(201).send({ token: await userTokens.issue(account), accountId: account.accountId })
    },
  )

  app.post(
    '/v1/auth/signin',
    {
      config: byEmail,
      schema: {
        tags: ['accounts'],
        summary: 'Sign in and get an account token',
        body: z.strictObject({ email: Email, password: z.string().min(1).max(256) }),
        response: { 200: TokenResponse },
      },
    },
    async (request) => {
      const account = await controlPlane.checkPassword(request.body.email, request.body.password)
      if (!account) throw errors.unauthenticated('the e-mail address or the password is wrong')
      return { token: await userTokens.issue(account) }
    },
  )

  app.post(
    '/v1/auth/refresh',
    {
      onRequest: account.onRequest,
      config: credentialsRoute(principalOf),
      schema: {
        tags: ['accounts'],
        summary: 'Exchange a valid account token for a fresh one',
        response: { 200: TokenResponse },
      },
    },
    async (request) => {
      const principal = await account(request)
      if (!(await controlPlane.findAccount(principal.accountId)))
        throw errors.unauthenticated('the account does not exist')
      return { token: await userTokens.issue(principal) }
    },
  )

  app.delete(
    '/v1/account',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['accounts'],
        summary: "Erase the caller's account holder: their e-mail and name become unreadable",
        description:
          "Destroys the key their e-mail address and name are sealed under; the account's tokens and its " +
          "sources' API tokens are refused from then on, and the e-mail address may sign up again.",
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const { accountId } = await account(request)
      await controlPlane.eraseAccount(accountId)
      request.log.info({ accountId }, 'account erased')
      return reply.code(204).send(null)
    },
  )

  const SourceView = z.object({
    id: z.string(),
    kind: SourceKind,
    name: z.string(),
    createdAt: z.string(),
    /** Only for a revoked source. */
    revokedAt: z.string().optional(),
  })
  const view = (source: Source) => {
    const revokedAt = controlPlane.revocations.revokedAt(source.sourceId)
    return {
      id: source.sourceId,
      kind: source.kind,
      name: source.name,
      createdAt: new Date(source.createdAt).toISOString(),
      ...(revokedAt === null ? {} : { revokedAt: new Date(revokedAt).toISOString() }),
    }
  }

  app.post(
    '/v1/sources',
    {
      onRequest: account.onRequest,
      config: creationRoute,
      schema: {
        tags: ['sources'],
        summary: 'Create a source (an app, store, device fleet, place or site) and its API token',
        description:
          'The API token is shown once: only its hash is kept; `tokenId` names it (to list or revoke it).',
        body: z.strictObject({ kind: SourceKind, name: trimmedName(200) }),
        response: { 201: SourceView.extend({ apiToken: z.string(), tokenId: z.string() }) },
      },
    },
    async (request, reply) => {
      const principal = await account(request)
      const { source, apiToken, tokenId } = await controlPlane.createSource(principal.accountId, request.body)
      request.log.info({ sourceId: source.sourceId, kind: source.kind }, 'source created')
      return reply.code(201).send({ ...view(source), apiToken, tokenId })
    },
  )

  app.get(
    '/v1/sources',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['sources'],
        summary: "The account's sources, revoked ones with `revokedAt`",
        response: { 200: z.object({ sources: z.array(SourceView) }) },
      },
    },
    async (request) => {
      const principal = await account(request)
      return { sources: (await controlPlane.listOwned(principal.accountId)).map(view) }
    },
  )

  app.get(
    '/v1/sources/:id',
    {
      // `/v1/sources/` names no source: it is no route, as it would be without this one.
      onRequest: [
        async (request, reply) => {
          if ((request.params as { id?: string }).id === '') return reply.callNotFound()
        },
        account.onRequest,
      ],
      schema: {
        tags: ['sources'],
        summary: 'One source of the account, with `revokedAt` once revoked (404 for any other)',
        params: SourceParams,
        response: { 200: SourceView },
      },
    },
    async (request) => {
      const principal = await account(request)
      return view(await ownedSource(controlPlane, principal.accountId, request.params.id))
    },
  )

  const EventsResponse = z.object({
    accepted: z.number(),
    duplicates: z.number(),
    rejected: z.number(),
    results: z.array(EventResult),
  })

  app.post(
    '/v1/events',
    {
      bodyLimit: EVENTS_BODY_LIMIT,
      onRequest: producer.onRequest,
      // The answer is built here from validated results; checking it again against its schema
      // (which documents it) would cost as much as validating the events.
      serializerCompiler: plainJson,
      schema: {
        tags: ['events'],
        summary: 'Send a batch of events (1 to 1,000, at most 1 MiB)',
        description: [
          'Authenticated with the source API token. Answers only after the batch is durable in the log.',
          'Each event: `name`, `timestamp` (ISO-8601 with zone, or epoch ms), optional `id` (idempotency key:',
          're-sent ids are reported as `duplicate` and counted once), `subject`, `session`, `category`, `attrs`',
          '(names to JSON values). An event whose name the source defines must carry exactly the defined',
          'attributes, each of its type; a strict source refuses undefined names; a source that registers sessions',
          'refuses unknown ones. If any event is invalid, nothing is appended and the answer is 400',
          'with the reason for each; with `?partial=true` the valid events are appended and the answer is 207.',
        ].join(' '),
        querystring: z.object({ partial: z.enum(['true', 'false']).default('false') }),
        body: EventBatchBody,
        response: { 200: EventsResponse, 207: EventsResponse },
      },
    },
    async (request, reply) => {
      const source = await producer(request)
      const { events } = request.body
      const batch = validateEvents(
        source,
        events,
        Date.now(),
        await controlPlane.apps.ingestRules(source, events),
      )
      const partial = request.query.partial === 'true'
      if (batch.rejected.length > 0 && !partial) {
        const results = describeResults(batch, null, events.length)
        const first = batch.rejected[0]!.issues[0]
        throw new HourglassError(
          'EVENTS_REJECTED',
          `${batch.rejected.length} of ${events.length} events are invalid, nothing was appended` +
            (first ? ` (first: ${first.path}: ${first.message})` : ''),
          { issues: batch.rejected.flatMap((r) => r.issues), results },
        )
      }
      const outcomes = await telemetry.appendEvents(batch.records)
      const results = describeResults(batch, outcomes, events.length)
      const duplicates = outcomes.filter((o) => o.status === 'duplicate').length
      return reply.code(batch.rejected.length > 0 ? 207 : 200).send({
        accepted: outcomes.length - duplicates,
        duplicates,
        rejected: batch.rejected.length,
        results,
      })
    },
  )
}
