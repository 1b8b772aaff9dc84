import { existsSync } from 'node:fs'
import { type LocalKafka, startLocalKafka } from '../kafka/localKafka.ts'

/**
 * The broker for `npm run test:services`, chosen once per run:
 * 1. KAFKA_BROKERS when set (a broker someone already runs);
 * 2. a container (testcontainers, `@testcontainers/kafka` if installed) when a Docker engine is reachable;
 * 3. otherwise a local single-node KRaft broker from Maven Central (scripts/src/kafka/localKafka.ts).
 * Test processes read KAFKA_BROKERS, which this sets before they start. Whatever it started
 * it stops at the end, also when tests fail.
 */

const dockerReachable = () =>
  Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock') || existsSync('/run/docker.sock')

interface Started {
  readonly brokers: string
  readonly how: string
  stop(): Promise<void>
}

async function inContainer(): Promise<Started | null> {
  const moduleName = '@testcontainers/kafka'
  let containers: {
    KafkaContainer: new (
      image: string,
    ) => {
      withKraft(): {
        start(): Promise<{ getHost(): string; getMappedPort(p: number): number; stop(): Promise<unknown> }>
      }
    }
  }
  try {
    containers = await import(moduleName)
  } catch {
    return null
  }
  // Confluent Platform 7.9 ships Apache Kafka 3.9, the line kafkajs 2.2.4 works with.
  const container = await new containers.KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start()
  return {
    brokers: `${container.getHost()}:${container.getMappedPort(9093)}`,
    how: 'a testcontainers Kafka container',
    stop: async () => {
      await container.stop()
    },
  }
}

async function locally(): Promise<Started> {
  const kafka: LocalKafka = await startLocalKafka({ defaultPartitions: 1 })
  return { brokers: kafka.brokers, how: `a local KRaft broker (${kafka.dir})`, stop: () => kafka.destroy() }
}

export default async function setup() {
  if (process.env.KAFKA_BROKERS) {
    process.stdout.write(`test:services: Kafka at KAFKA_BROKERS=${process.env.KAFKA_BROKERS}\n`)
    return
  }
  const started = (dockerReachable() ? await inContainer().catch(() => null) : null) ?? (await locally())
  process.env.KAFKA_BROKERS = started.brokers
  process.stdout.write(`test:services: Kafka at ${started.brokers}, ${started.how}\n`)
  return async () => {
    await started.stop()
  }
}
