import type { FastifyReply } from 'fastify'

/**
 * Sends JSON built by the read itself (kept in the read cache as the bytes sent). Fastify passes
 * bytes, and a string with a JSON content type, through unchanged: the answer is not encoded twice.
 */
export const sendJson = (reply: FastifyReply, json: Buffer | string) =>
  reply.type('application/json; charset=utf-8').send(json)
