import type { FastifyReply } from 'fastify'

/**
 * Sends JSON text built by the read itself (kept in the read cache as sent). Fastify passes a
 * string with a JSON content type through unchanged: the answer is not encoded twice.
 */
export const sendJson = (reply: FastifyReply, json: string) =>
  reply.type('application/json; charset=utf-8').send(json)
