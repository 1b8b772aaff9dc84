import { startLocalKafka } from './localKafka.ts'

/**
 * `npm run kafka`: a local single-node broker for distributed mode, until Ctrl-C.
 * KAFKA_PORT picks the port (default: a free one); the jars are cached in .kafka/.
 */
const port = process.env.KAFKA_PORT ? Number(process.env.KAFKA_PORT) : undefined
process.stdout.write('starting Kafka (the first run fetches it from Maven Central)…\n')
const kafka = await startLocalKafka({ ...(port ? { port } : {}), defaultPartitions: 4 })
process.stdout.write(`Kafka is up: KAFKA_BROKERS=${kafka.brokers} (folder ${kafka.dir})\n`)
let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  process.stdout.write('stopping Kafka…\n')
  await kafka.destroy()
  process.exitCode = 0
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
