/** A local HTTP origin for the proxy tests: a node:http server on a free loopback port. */
import type { AddressInfo } from "node:net";
import { createServer, type RequestListener, type Server } from "node:http";

export interface Origin {
  /** e.g. http://127.0.0.1:40123 (no trailing slash). */
  url: string;
  port: number;
  server: Server;
  /** Stops it, dropping keep-alive connections. */
  close(): Promise<void>;
}

/** Starts `handler` on `host` (default 127.0.0.1) at a free port. */
export function startOrigin(handler: RequestListener, host = "127.0.0.1"): Promise<Origin> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
        port,
        server,
        close: () => {
          server.closeAllConnections();
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/** An origin answering every request with one image (read at request time), counting requests by path. */
export async function imageOrigin(body: () => Uint8Array, type = "image/jpeg"): Promise<Origin & { hits(path?: string): number }> {
  const seen = new Map<string, number>();
  const origin = await startOrigin((req, res) => {
    const path = req.url ?? "/";
    seen.set(path, (seen.get(path) ?? 0) + 1);
    res.writeHead(200, { "Content-Type": type });
    res.end(body());
  });
  const hits = (path?: string): number => (path === undefined ? [...seen.values()].reduce((a, b) => a + b, 0) : seen.get(path) ?? 0);
  return { ...origin, hits };
}
