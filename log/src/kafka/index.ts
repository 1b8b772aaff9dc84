export * from './kafkaEventLog.ts'
export { createKafkaPartitionLease, toLogRecord } from './kafkaPartitionLease.ts'
