import { createLoopbackClient, inParallel } from './loopbackClient.ts'
import type { ReaderMessage, ReaderReply } from './readerPool.ts'

/** The readers' process: times closed-loop reads of one path at a time (see readerPool.ts). */
const [baseUrl, maxSocketsArg] = process.argv.slice(2)
const client = createLoopbackClient(baseUrl!, Number(maxSocketsArg))

// The bench that started this process has gone: so have its orders.
process.on('disconnect', () => process.exit(0))

async function run(message: ReaderMessage): Promise<ReaderReply> {
  // Answers are kept as the bytes received, as the direct reads' are: decoding is the client's choice.
  const read = async () =>
    (await client.send('GET', message.path, { token: message.token, raw: true })).status === 200
  for (let i = 0; i < message.warmup; i++) await read()
  const samples: number[] = []
  let failures = 0
  const until = performance.now() + message.budgetMs
  await inParallel(message.reads, message.readers, async () => {
    if (performance.now() > until) return
    const startedAt = performance.now()
    const ok = await read()
    samples.push(performance.now() - startedAt)
    if (!ok) failures++
  })
  return { id: message.id, samples, failures }
}

process.on('message', (message: ReaderMessage) => {
  run(message).then(
    (reply) => process.send?.(reply),
    (error: unknown) =>
      process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  )
})
