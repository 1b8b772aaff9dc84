import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino'
import { PinoPretty } from 'pino-pretty'

/**
 * The logger of `hourglass start`: readable lines on a terminal, one JSON object a line anywhere
 * else (a file, a pipe, a log collector), so machines get what they parse and people what they read.
 */
export function createCliLogger(
  options: LoggerOptions,
  stdout: NodeJS.WritableStream = process.stdout,
): Logger {
  return pino(options, logDestination(stdout))
}

const isTerminal = (stream: NodeJS.WritableStream) => (stream as { isTTY?: boolean }).isTTY === true

/** pino-pretty in this process (no worker thread) on a TTY, plain JSON lines otherwise. */
export function logDestination(stdout: NodeJS.WritableStream): DestinationStream | NodeJS.WritableStream {
  if (!isTerminal(stdout)) return stdout === process.stdout ? pino.destination(1) : stdout
  return PinoPretty({
    colorize: (stdout as { hasColors?: () => boolean }).hasColors?.() ?? false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    destination: stdout,
    sync: true,
  })
}
