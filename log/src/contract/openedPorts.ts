import { afterEach } from 'vitest'

/** What a contract suite needs of an adapter: ports over fresh storage, and over the same storage again. */
export interface PortHarness<Port> {
  /** A port over fresh, empty storage. */
  create(): Promise<Port>
  /** The same storage opened again after `port.close()`, as after a restart. */
  reopen(port: Port): Promise<Port>
}

/**
 * The harness as a suite's tests use it: `reopen` closes the port first, and every port opened
 * is closed after each test.
 */
export function openedPorts<Port extends { close(): Promise<void> }>(harness: PortHarness<Port>) {
  const open: Port[] = []
  afterEach(async () => {
    for (const port of open.splice(0)) await port.close()
  })
  const opened = (port: Port) => {
    open.push(port)
    return port
  }
  return {
    create: async () => opened(await harness.create()),
    async reopen(port: Port) {
      await port.close()
      return opened(await harness.reopen(port))
    },
  }
}
