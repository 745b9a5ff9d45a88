import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './process.js';

/**
 * A TCP link the caller can cut: listens on a loopback port and forwards every connection to
 * `target`. `cut()` resets every connection through it and refuses new ones (a network partition
 * as the two ends see it: their connections die and reconnecting fails); `heal()` forwards again.
 */
export class Link {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {
    server.on('connection', (inbound) => this.accept(inbound));
  }

  static async open(target: { host: string; port: number }, port?: number): Promise<Link> {
    const listenPort = port ?? (await freePort());
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', () => resolve());
    });
    return new Link(server, listenPort, target);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get isCut(): boolean {
    return this.cutOff;
  }

  private accept(inbound: Socket): void {
    if (this.cutOff) {
      inbound.resetAndDestroy();
      return;
    }
    const outbound = connect(this.target.port, this.target.host);
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  }

  /** Resets every connection through the link and refuses new ones until `heal()`. */
  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  heal(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
