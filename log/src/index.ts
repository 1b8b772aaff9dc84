export * from './embeddedEventLog.ts'
export * from './eventLog.ts'
export * from './remote/httpControlLog.ts'
export { type TailSource, tail } from './subscribe.ts'
