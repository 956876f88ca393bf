import { type Server, type Socket, connect as tcpConnect, createServer } from 'node:net';
import { freePort } from './server';

/**
 * A TCP proxy on 127.0.0.1 in front of a local service (PostgreSQL, Redis) that can cut every
 * connection and refuse new ones, then listen again on the same port: the service "goes away"
 * for the processes behind the proxy while the shared server keeps running for other tests.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  protected constructor(
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  static async to(upstreamPort: number): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), upstreamPort);
    await p.restore();
    return p;
  }

  restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect({ host: '127.0.0.1', port: this.upstreamPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server = server;
    return new Promise((res, rej) => {
      server.once('error', rej);
      server.listen(this.port, '127.0.0.1', () => res());
    });
  }

  /** Every open connection is reset and new ones are refused, until restore(). */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    const closed = s === undefined ? Promise.resolve() : new Promise<void>((r) => s.close(() => r()));
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    await closed;
  }
}
