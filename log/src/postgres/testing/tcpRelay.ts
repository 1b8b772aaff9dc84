import { createServer, type Socket, connect as tcpConnect } from 'node:net'

export interface TcpRelay {
  /** The loopback port that leads to the target while the relay is up. */
  readonly port: number
  /** Closes the port and every connection through it: the target is unreachable, as in a network fault. */
  cut(): Promise<void>
  /** Opens the same port again. */
  restore(): Promise<void>
  close(): Promise<void>
}

/** A loopback TCP port relayed to `target`, to take a server away from a client and give it back. */
export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = tcpConnect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
      // Either side failing ends both; the client sees a broken connection, as it would.
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
  })
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        const address = server.address()
        resolve(typeof address === 'object' && address ? address.port : port)
      })
    })
  const port = await listen(0)
  const cut = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve()
      server.close(() => resolve())
      for (const socket of sockets) socket.destroy()
    })
  return {
    port,
    cut,
    restore: async () => {
      await listen(port)
    },
    close: cut,
  }
}
