import { Agent, request } from 'node:http'

export interface LoopbackAnswer {
  readonly status: number
  /** The answer as text; empty when it was asked for raw. */
  readonly body: string
  /** `performance.now()` when the whole answer had arrived. */
  readonly at: number
}

/** An HTTP/1.1 client for the Hourglass under test, over kept-alive loopback connections. */
export interface LoopbackClient {
  send(
    method: 'GET' | 'POST',
    path: string,
    options?: { token?: string; body?: string; raw?: boolean },
  ): Promise<LoopbackAnswer>
  close(): void
}

/**
 * node:http with a keep-alive agent rather than fetch: fetch's per-request cost is several
 * times higher, and the load generator shares the CPU with the server it measures.
 */
export function createLoopbackClient(baseUrl: string, maxSockets: number): LoopbackClient {
  const url = new URL(baseUrl)
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
    throw new Error(`the benchmark drives loopback only, not ${url.hostname}`)
  }
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  return {
    send(method, path, options = {}) {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = {}
        if (options.token) headers.authorization = `Bearer ${options.token}`
        if (options.body !== undefined) {
          headers['content-type'] = 'application/json'
          headers['content-length'] = Buffer.byteLength(options.body)
        }
        const outgoing = request(
          { agent, host: url.hostname, port: url.port, method, path, headers },
          (incoming) => {
            const chunks: Buffer[] = []
            incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
            incoming.on('error', reject)
            incoming.on('end', () => {
              resolve({
                status: incoming.statusCode ?? 0,
                body: options.raw ? '' : Buffer.concat(chunks).toString('utf8'),
                at: performance.now(),
              })
            })
          },
        )
        outgoing.on('error', reject)
        outgoing.end(options.body)
      })
    },
    close: () => agent.destroy(),
  }
}

/** Runs `total` tasks with at most `concurrency` in flight (closed loop: a client sends again when answered). */
export async function inParallel(
  total: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const client = async () => {
    while (next < total) {
      const index = next++
      await task(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, client))
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)))
