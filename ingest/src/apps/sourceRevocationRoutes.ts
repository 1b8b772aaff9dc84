import type { ApiTokenEntry } from '@hourglass/control'
import { errors, SourceParams } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { IngestDeps } from '../ingestRoutes.ts'
import { accountSources } from './appAnalyticsWriteRoutes.ts'

const TokenParams = SourceParams.extend({
  tokenId: z.string().regex(/^[0-9a-f]{16}$/, {
    error: 'must be a token id as GET /v1/sources/<id>/tokens lists it (16 hexadecimal digits)',
  }),
})

const ApiTokenView = z.object({
  tokenId: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
})
const apiTokenView = (token: ApiTokenEntry): z.infer<typeof ApiTokenView> => ({
  tokenId: token.tokenId,
  createdAt: new Date(token.createdAt).toISOString(),
  revokedAt: token.revokedAt === null ? null : new Date(token.revokedAt).toISOString(),
})

/** Revoking a source (it sends nothing from then on, with any credential) or one of its API tokens. */
export const sourceRevocationRoutes: FastifyPluginAsync<IngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { revocations } = deps.controlPlane
  const { account, owned } = accountSources(deps)

  app.delete(
    '/v1/sources/:id',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['sources'],
        summary: 'Revoke the source: it sends nothing from then on, with any credential',
        description: [
          'Its API tokens are refused (403) on every route they could send with, and it gets no new token and',
          'no new session. What it sent before stays, and its owner still reads it. Revoking it again is a 204',
          'too; GET /v1/sources shows when it was revoked (`revokedAt`).',
        ].join(' '),
        params: SourceParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const source = await owned(request, request.params.id)
      if (await revocations.revokeSource(source))
        request.log.info({ sourceId: source.sourceId }, 'source revoked')
      return reply.code(204).send(null)
    },
  )

  app.get(
    '/v1/sources/:id/tokens',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['sources'],
        summary: "The source's API tokens, oldest first: their ids, never their secrets",
        description:
          'The first token, made with the source, and the live tokens issued since; `revokedAt` is null while a token is valid.',
        params: SourceParams,
        response: { 200: z.object({ tokens: z.array(ApiTokenView) }) },
      },
    },
    async (request) => {
      const source = await owned(request, request.params.id)
      return { tokens: (await revocations.listApiTokens(source)).map(apiTokenView) }
    },
  )

  app.delete(
    '/v1/sources/:id/tokens/:tokenId',
    {
      onRequest: account.onRequest,
      schema: {
        tags: ['sources'],
        summary:
          'Revoke one API token of the source: it is refused from then on (401), the others stay valid',
        description: 'Revoking it again is a 204 too; a token id the source does not have is a 404.',
        params: TokenParams,
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      const source = await owned(request, request.params.id)
      const token = await revocations.revokeApiToken(source, request.params.tokenId)
      if (!token) throw errors.notFound('the API token')
      request.log.info({ sourceId: source.sourceId, tokenId: token.tokenId }, 'source API token revoked')
      return reply.code(204).send(null)
    },
  )
}
