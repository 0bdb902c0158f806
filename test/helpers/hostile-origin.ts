/**
 * A misbehaving upstream for the hostile-source tests: one node:http server whose paths answer
 * correctly, slowly, never, with lying lengths, broken encodings, bombs and non-images (the paths are
 * the UPSTREAMS table's in test/source/hostile-sources.test.ts). It records every request it sees
 * and when each connection closed.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { startOrigin, type Origin } from "./origin.ts";

export interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

export interface HostileOrigin extends Origin {
  /** Every request, in order. */
  seen: Seen[];
  /** Paths whose connection the origin saw closed, with when (ms since the request arrived). */
  closed: Map<string, number>;
}

/**
 * Starts the origin on 127.0.0.1. `png` and `jpeg` are the good images it serves; `deadlineMs` is the
 * proxy's fetch deadline, which the slow paths straddle.
 */
export async function startHostileOrigin(png: Uint8Array<ArrayBuffer>, jpeg: Uint8Array<ArrayBuffer>, deadlineMs: number): Promise<HostileOrigin> {
  const OPEN_TIMEOUT_MS = deadlineMs;
  const originSeen: Seen[] = [];
  const originClosed = new Map<string, number>();
  /** A PNG header then 8 MiB of zeros, compressed to a few KiB: only a cap on decoded bytes stops it. */
  const zeros = Buffer.concat([png, Buffer.alloc(8 * 1024 * 1024)]);
  const gzipBomb = gzipSync(zeros);
  const brotliBomb = brotliCompressSync(zeros);
  const enc = (s: string) => new TextEncoder().encode(s);
  const BODIES: Record<string, () => Uint8Array> = {
    png: () => png,
    jpeg: () => jpeg,
    html: () => enc("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"),
    svg: () => enc('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'),
    gif: () => new Uint8Array([...enc("GIF89a"), 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b]),
    text: () => enc("hello, not an image"),
    empty: () => new Uint8Array(0),
  };


  /** Writes a raw HTTP response, bypassing node's framing, so lengths and encodings can lie. */
  function raw(req: IncomingMessage, head: string, body: Uint8Array | string = "", end = true): void {
    const s = req.socket;
    s.write(head.replace(/\n/g, "\r\n") + "\r\n");
    if (body.length > 0) s.write(body);
    if (end) s.end();
  }

  function handleOrigin(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://origin");
    const p = url.pathname;
    originSeen.push({ path: p, headers: req.headers });
    const t0 = Date.now();
    res.on("close", () => originClosed.set(p, Date.now() - t0));
    const q = (k: string) => url.searchParams.get(k);
    const timers: NodeJS.Timeout[] = [];
    res.on("close", () => timers.forEach((t) => clearInterval(t)));
    const every = (ms: number, f: () => void) => timers.push(setInterval(f, ms));
    const later = (ms: number, f: () => void) => timers.push(setTimeout(f, ms));

    if (p.startsWith("/img/")) {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length });
      res.end(png);
    } else if (p === "/typed") {
      const body = BODIES[q("body") ?? ""]!();
      const headers: Record<string, string | number> = { "Content-Length": body.length };
      if (q("type") !== null) headers["Content-Type"] = q("type")!;
      res.writeHead(200, headers);
      res.end(body);
    } else if (p.endsWith("/redirect")) {
      res.writeHead(Number(q("status") ?? 302), { Location: q("to") ?? "/" });
      res.end();
    } else if (p === "/redirect-endless") {
      res.writeHead(302, { Location: q("to") ?? "/" });
      every(20, () => res.write("x".repeat(1024)));
    } else if (p === "/no-location") {
      res.writeHead(302);
      res.end();
    } else if (p === "/loop") {
      res.writeHead(301, { Location: "/loop" });
      res.end();
    } else if (p === "/ping" || p === "/pong") {
      res.writeHead(302, { Location: p === "/ping" ? "/pong" : "/ping" });
      res.end();
    } else if (p.startsWith("/chain/")) {
      const n = Number(p.slice(7));
      res.writeHead(307, { Location: n > 0 ? `/chain/${n - 1}` : "/img/chain.png" });
      res.end();
    } else if (p.startsWith("/slow-hop/")) {
      // Each hop well inside the deadline, all of them together past it: one deadline covers every hop.
      const n = Number(p.slice(10));
      later(OPEN_TIMEOUT_MS * 0.4, () => {
        res.writeHead(302, { Location: n > 0 ? `/slow-hop/${n - 1}` : "/img/slow-hop.png" });
        res.end();
      });
    } else if (p.startsWith("/status/")) {
      const code = Number(p.slice(8));
      if (code === 204) res.writeHead(204); // a success without a body: nothing to sniff
      else res.writeHead(code, { "Content-Type": "text/html", "WWW-Authenticate": 'Basic realm="upstream"' });
      res.end(code === 204 || code === 304 ? undefined : "<html>upstream says no</html>");
    } else if (p.startsWith("/status-endless/")) {
      res.writeHead(Number(p.slice(16)), { "Content-Type": "text/plain" });
      every(20, () => res.write("y".repeat(1024)));
    } else if (p === "/slow-headers") {
      // Accepts the request and never answers.
    } else if (p === "/trickle") {
      res.writeHead(200, { "Content-Type": "image/png" });
      let i = 0;
      every(100, () => res.write(png.subarray(i, ++i)));
    } else if (p === "/stall-body") {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length });
      res.write(png.subarray(0, png.length >> 1));
    } else if (p === "/never-ends") {
      res.writeHead(200, { "Content-Type": "image/png" }); // chunked, never terminated
      res.write(png);
    } else if (p === "/slow-complete") {
      // A whole, valid image, but spread over three deadlines: a per-read idle timeout would never fire.
      res.writeHead(200, { "Content-Type": "image/png", "Content-Length": png.length });
      const step = Math.ceil(png.length / 30);
      let at = 0;
      every(OPEN_TIMEOUT_MS / 10, () => {
        res.write(png.subarray(at, (at += step)));
        if (at >= png.length) res.end();
      });
    } else if (p === "/cl-larger-close") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: ${png.length + 1000}\n`, png);
    } else if (p === "/cl-larger-open") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: ${png.length + 1000}\n`, png, false);
    } else if (p === "/cl-smaller") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: ${png.length >> 1}\nConnection: close\n`, png);
    } else if (p === "/cl-over-cap") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: 50000000\n`, png, false);
    } else if (p === "/cl-absurd") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: 99999999999999999999999\n`, png, false);
    } else if (p === "/cl-not-a-number") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: 12abc\n`, png);
    } else if (p === "/header-drip") {
      // Headers that never finish: one more line every 100 ms.
      req.socket.write("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n");
      let i = 0;
      every(100, () => req.socket.write(`X-Drip-${i++}: ${"d".repeat(10)}\r\n`));
    } else if (p === "/switching-protocols") {
      raw(req, "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n", "\x81\x05hello");
    } else if (p === "/early-hints") {
      raw(req, `HTTP/1.1 103 Early Hints\nLink: </x.css>; rel=preload\n\nHTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: ${png.length}\n`, png);
    } else if (p === "/te-and-cl") {
      // Both framings (a smuggling classic): chunked must win, so the 10-byte Content-Length is ignored.
      const hex = png.length.toString(16);
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: 10\nTransfer-Encoding: chunked\n`, Buffer.concat([Buffer.from(`${hex}\r\n`), png, Buffer.from("\r\n0\r\n\r\n")]));
    } else if (p === "/dup-cl") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nContent-Length: ${png.length}\nContent-Length: 10\n`, png);
    } else if (p === "/bad-chunk") {
      raw(req, `HTTP/1.1 200 OK\nContent-Type: image/png\nTransfer-Encoding: chunked\n`, "zz\r\nnot a chunk\r\n0\r\n\r\n");
    } else if (p === "/garbage-http") {
      raw(req, "NOT HTTP AT ALL\n");
    } else if (p === "/destroy") {
      req.socket.destroy();
    } else if (p === "/huge-header") {
      res.writeHead(200, { "Content-Type": "image/png", "X-Filler": "h".repeat(256 * 1024) });
      res.end(png);
    } else if (p === "/endless-fast") {
      // No Content-Length and no end: only a cap enforced while streaming stops it.
      res.writeHead(200, { "Content-Type": "image/png" });
      res.write(png);
      const chunk = Buffer.alloc(16 * 1024, 7);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    } else if (p === "/gzip-bomb") {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Encoding": "gzip", "Content-Length": gzipBomb.length });
      res.end(gzipBomb);
    } else if (p === "/brotli-bomb") {
      res.writeHead(200, { "Content-Type": "image/png", "Content-Encoding": "br", "Content-Length": brotliBomb.length });
      res.end(brotliBomb);
    } else if (p === "/corrupt-gzip") {
      const body = Buffer.concat([gzipSync(png).subarray(0, 40), Buffer.alloc(200, 0x55)]);
      res.writeHead(200, { "Content-Type": "image/png", "Content-Encoding": "gzip", "Content-Length": body.length });
      res.end(body);
    } else if (p === "/upstream-headers") {
      res.writeHead(200, {
        "Content-Type": "image/png",
        "Set-Cookie": "upstream=tracking; Path=/",
        "X-Upstream-Secret": "leaky",
        "Access-Control-Allow-Origin": "*",
        "Content-Security-Policy": "script-src *",
      });
      res.end(png);
    } else {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not here");
    }
  }

  const origin = await startOrigin(handleOrigin);
  return { ...origin, seen: originSeen, closed: originClosed };
}
