import { type ChildProcess, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Linux reports a process's CPU time in clock ticks of 1/100 s. */
const TICKS_PER_SECOND = 100

/** User plus system CPU seconds of a process, from /proc; NaN elsewhere. */
function processCpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
  } catch {
    return Number.NaN
  }
}

/** A process of the bench's clients (producers, readers), talked to over IPC. */
export interface BenchChild {
  readonly process: ChildProcess
  /** CPU seconds the process has used so far (NaN where unknown). */
  cpuSeconds(): number
  close(): Promise<void>
}

/**
 * Starts a TypeScript module of the bench as a child process that does not keep this one alive;
 * `onExit` hears of an exit (or a failure to start) that `close` did not ask for.
 */
export function forkBenchChild(
  module: URL,
  args: readonly string[],
  onExit: (error: Error) => void,
): BenchChild {
  const child = fork(fileURLToPath(module), [...args], {
    // Everything the bench runs goes through tsx.
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  child.unref()
  child.channel?.unref()
  let closing = false
  child.on('error', onExit)
  child.on('exit', (code, signal) => {
    if (!closing) onExit(new Error(`the process exited (code ${code}, signal ${signal})`))
  })
  return {
    process: child,
    cpuSeconds: () => processCpuSeconds(child.pid),
    async close() {
      closing = true
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill()
      await exited
    },
  }
}
