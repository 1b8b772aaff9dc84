export * from './embeddedEventLog.ts'
export * from './eventLog.ts'
export { type TailSource, tail } from './subscribe.ts'
