import { accountInBody, credentialsRoute } from '@hourglass/control'
import { errors, ReceiptInput, type ReceiptRecord } from '@hourglass/schemas'
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { appendReceipt } from '../appendReceipt.ts'
import {
  authenticateReceiptRequest,
  MemberPassword,
  type ReceiptIngestDeps,
  receiptSourceOf,
  Username,
} from '../receiptRoutes.ts'

/** A receipt in seed 003's shape, as Django REST framework writes it: money as decimal text. */
export const SeedReceipt = z.object({
  transaction_id: z.string(),
  timestamp: z.string(),
  items: z.array(
    z.object({ product_id: z.string(), quantity: z.number(), price: z.string(), category: z.string() }),
  ),
  total_amount: z.string(),
  nds_amount: z.string(),
  tips_amount: z.string(),
  payment_method: z.string(),
  place_id: z.string(),
  place_name: z.string(),
})

const toSeedReceipt = (r: ReceiptRecord): z.infer<typeof SeedReceipt> => ({
  transaction_id: r.transactionId,
  timestamp: new Date(r.timestamp).toISOString(),
  items: r.items.map((item) => ({
    product_id: item.productId,
    quantity: item.quantity,
    price: item.price,
    category: item.category,
  })),
  total_amount: r.total,
  nds_amount: r.nds,
  tips_amount: r.tips,
  payment_method: r.paymentMethod,
  place_id: r.placeId,
  place_name: r.placeName,
})

const KeyResponse = z.object({ key: z.string() })

/**
 * Seed 003's write side under /compat/receipts. Its two services collapse into one: the
 * producer's `/api/checks/` and the consumer's `/api/add_checks/` both append the receipt to
 * the log (journal and transport at once), so the same receipt sent to both counts once.
 * The seed does not say how a point of sale authenticates: here it sends its place or store
 * source's API token as `Authorization: Bearer <token>` (or `Token <token>`).
 */
export const receiptsCompatIngestRoutes: FastifyPluginAsync<ReceiptIngestDeps> = async (fastify, deps) => {
  const app = fastify.withTypeProvider<ZodTypeProvider>()
  const { telemetry, controlPlane, memberTokens } = deps

  for (const [path, summary] of [
    ['/api/checks/', 'Seed 003: send a receipt (the first service)'],
    ['/api/add_checks/', 'Seed 003: accept a receipt (the second service)'],
  ] as const) {
    app.post(
      path,
      {
        onRequest: authenticateReceiptRequest(controlPlane),
        schema: {
          tags: ['compat: receipts'],
          summary,
          description:
            "A receipt in seed 003's shape, with a place or store source's API token as `Authorization: Bearer`. " +
            '201 when new, 200 when the same `transaction_id` was already received (counted once).',
          body: ReceiptInput,
          response: { 200: SeedReceipt, 201: SeedReceipt },
        },
      },
      async (request, reply) => {
        const outcome = await appendReceipt(telemetry, receiptSourceOf(request), request.body)
        return reply.code(outcome.status === 'accepted' ? 201 : 200).send(toSeedReceipt(outcome.receipt))
      },
    )
  }

  app.post(
    '/auth/registration/',
    {
      config: credentialsRoute(accountInBody('member', 'username')),
      schema: {
        tags: ['compat: receipts'],
        summary: 'Seed 003: register a user (an analyst once an account admin grants the role)',
        body: z
          .object({ username: Username, password1: MemberPassword, password2: z.string().max(256) })
          .check((ctx) => {
            if (ctx.value.password1 !== ctx.value.password2)
              ctx.issues.push({
                code: 'custom',
                path: ['password2'],
                message: 'must be the same as password1',
                input: ctx.value,
              })
          }),
        response: { 201: KeyResponse },
      },
    },
    async (request, reply) => {
      const member = await controlPlane.registerMember({
        username: request.body.username,
        password: request.body.password1,
      })
      request.log.info({ userId: member.userId }, 'member registered')
      return reply.code(201).send({ key: await memberTokens.issue(member) })
    },
  )

  app.post(
    '/auth/login/',
    {
      config: credentialsRoute(accountInBody('member', 'username')),
      schema: {
        tags: ['compat: receipts'],
        summary: 'Seed 003: sign in; send the key back as "Authorization: Token <key>"',
        body: z.object({ username: z.string().min(1).max(150), password: z.string().min(1).max(256) }),
        response: { 200: KeyResponse },
      },
    },
    async (request) => {
      const member = await controlPlane.checkMemberPassword(request.body.username, request.body.password)
      if (!member) throw errors.unauthenticated('the username or the password is wrong')
      return { key: await memberTokens.issue(member) }
    },
  )
}
