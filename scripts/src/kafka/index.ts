/** A local Kafka broker, for the services suites and the distributed bench. */
export * from './localKafka.ts'
