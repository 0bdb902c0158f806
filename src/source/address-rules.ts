/**
 * Which source URLs the proxy may fetch. Runs on the first URL and on every redirect hop.
 *
 * Hostnames are compared after WHATWG URL parsing (`new URL`), which already turns every IPv4 spelling
 * (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`, full-width digits,
 * percent-encoding, trailing dot) into dotted quad, and every IPv6 spelling into compressed hex in
 * brackets. So the rules below only see canonical forms; the tests pin that assumption.
 *
 * The Worker cannot resolve DNS, so a public name pointing at a private address is not caught here; in
 * production Cloudflare's fetch does not reach private networks, and `wrangler dev` should only run on
 * machines whose network you trust (or with ALLOWED_SOURCES set).
 */
import { HttpError } from "../shared/errors.ts";

export interface SourceRules {
  /** Lifts the address rules (private/loopback/... addresses, local names); scheme, credential and allow-list rules stay. */
  allowPrivate: boolean;
  /** Parsed allow-list; empty = any public host. */
  allowList: readonly AllowEntry[];
  /** The Worker's own host (`hostname[:port]` of the incoming request): never fetched, to avoid request loops. */
  ownHost?: string;
}

export type AllowEntry = { kind: "exact"; host: string } | { kind: "suffix"; suffix: string };

/**
 * Parses ALLOWED_SOURCES: comma- or whitespace-separated hostnames, each exact (`images.example.com`)
 * or a subdomain wildcard (`*.example.com`, which matches `a.example.com` and `a.b.example.com` but not
 * `example.com` itself). Entries are normalised by the same URL parser as the requests.
 */
export function parseAllowList(raw: string): AllowEntry[] {
  const out: AllowEntry[] = [];
  for (const entry of raw.split(/[\s,]+/).filter((s) => s !== "")) {
    const wildcard = entry.startsWith("*.");
    const name = wildcard ? entry.slice(2) : entry;
    let host: string;
    try {
      const u = new URL(`http://${name}/`);
      if (u.username !== "" || u.password !== "" || u.port !== "" || u.pathname !== "/" || u.search !== "" || u.hash !== "") {
        throw new Error("not a bare hostname");
      }
      host = stripTrailingDots(u.hostname);
    } catch {
      throw new Error(`ALLOWED_SOURCES entry "${entry}" is not a hostname; use "host.example.com" or "*.example.com"`);
    }
    // Ports (":80") and paths are not host names even where the URL parser would drop or accept them.
    if (host === "" || name.includes("*") || /[/@?#\\]|:\d*$/.test(name)) {
      throw new Error(`ALLOWED_SOURCES entry "${entry}" is not a hostname; use "host.example.com" or "*.example.com"`);
    }
    out.push(wildcard ? { kind: "suffix", suffix: host } : { kind: "exact", host });
  }
  return out;
}

/**
 * Parses and checks a source URL. Throws 400 for URLs that are not fetchable at all (not absolute
 * http(s), credentials) and 403 for hosts the rules refuse, both naming the `url` parameter. Returns
 * the parsed URL to fetch.
 */
export function checkSourceUrl(raw: string | URL, rules: SourceRules): URL {
  const bad = (message: string) => new HttpError(400, "bad_parameter", message, "url");
  const refused = (message: string) => new HttpError(403, "source_not_allowed", message, "url");
  let url: URL;
  try {
    url = typeof raw === "string" ? new URL(raw) : raw;
  } catch {
    throw bad("url is not an absolute URL; give an http: or https: URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw bad(`url scheme "${url.protocol}" is not allowed; only http: and https:`);
  }
  if (url.username !== "" || url.password !== "") {
    throw bad("url must not contain credentials (user:password@)");
  }
  const host = stripTrailingDots(url.hostname.toLowerCase());
  if (host === "") throw bad("url has no host");

  // The address rules first: a private or local host is refused for what it is, whatever its port.
  if (!rules.allowPrivate) {
    const why = addressRefusal(host);
    if (why !== null) {
      throw refused(`source host ${host} is not allowed: ${why} (to test with sources on your own machine, run the dev server with ALLOW_PRIVATE_SOURCES=true)`);
    }
  }
  if (rules.ownHost !== undefined && pointsAtSelf(url, host, rules)) {
    throw refused(`url points at this service itself (${rules.ownHost})`);
  }
  if (rules.allowList.length > 0 && !rules.allowList.some((e) => matches(e, host))) {
    throw refused(`source host ${host} is not in ALLOWED_SOURCES`);
  }
  return url;
}

/**
 * Same hostname as the Worker, on any port: production fetches ignore custom ports, so any port would
 * loop back. With allowPrivate (local development, where servers share 127.0.0.1) only the same port.
 */
function pointsAtSelf(url: URL, host: string, rules: SourceRules): boolean {
  const own = new URL(`http://${rules.ownHost}/`);
  if (host !== stripTrailingDots(own.hostname)) return false;
  if (!rules.allowPrivate) return true;
  const port = (u: URL) => u.port || (u.protocol === "https:" ? "443" : "80");
  return port(url) === port(new URL(`${url.protocol}//${rules.ownHost}/`));
}

function matches(entry: AllowEntry, host: string): boolean {
  // Compared on parsed, dot-separated labels: "evil-example.com" never matches "*.example.com".
  return entry.kind === "exact" ? host === entry.host : host.endsWith(`.${entry.suffix}`);
}

function stripTrailingDots(host: string): string {
  return host.replace(/\.+$/, "");
}

/** Names that only resolve on local or internal networks. */
const LOCAL_NAME_SUFFIXES = ["localhost", "local", "internal", "localdomain", "home.arpa", "lan", "intranet"];

/**
 * Why a (canonical, lowercase, no trailing dot) hostname is refused by the address rules, or null if it
 * is a public name or public address.
 */
export function addressRefusal(host: string): string | null {
  if (host.startsWith("[")) {
    const v6 = parseIPv6(host.slice(1, -1));
    if (v6 === null) return "unparseable IPv6 literal";
    return ipv6Refusal(v6);
  }
  const v4 = parseIPv4(host);
  if (v4 !== null) return ipv4Refusal(v4);
  for (const s of LOCAL_NAME_SUFFIXES) {
    if (host === s || host.endsWith(`.${s}`)) return `"${s}" names are local`;
  }
  if (!host.includes(".")) return "single-label names only resolve on local networks";
  return null;
}

/** Dotted-quad only: the URL parser has already normalised every other spelling to this. */
export function parseIPv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (m === null) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

/** [base, prefix length, name] for refused IPv4 ranges. */
const IPV4_REFUSED: ReadonlyArray<readonly [string, number, string]> = [
  ["0.0.0.0", 8, "'this network' / unspecified (0.0.0.0/8)"],
  ["10.0.0.0", 8, "private (10.0.0.0/8)"],
  ["100.64.0.0", 10, "carrier-grade NAT (100.64.0.0/10)"],
  ["127.0.0.0", 8, "loopback (127.0.0.0/8)"],
  ["169.254.0.0", 16, "link-local / cloud metadata (169.254.0.0/16)"],
  ["172.16.0.0", 12, "private (172.16.0.0/12)"],
  ["192.0.0.0", 24, "IETF protocol assignments (192.0.0.0/24)"],
  ["192.0.2.0", 24, "documentation (192.0.2.0/24)"],
  ["192.88.99.0", 24, "6to4 relay anycast (192.88.99.0/24)"],
  ["192.168.0.0", 16, "private (192.168.0.0/16)"],
  ["198.18.0.0", 15, "benchmarking (198.18.0.0/15)"],
  ["198.51.100.0", 24, "documentation (198.51.100.0/24)"],
  ["203.0.113.0", 24, "documentation (203.0.113.0/24)"],
  ["224.0.0.0", 4, "multicast (224.0.0.0/4)"],
  ["240.0.0.0", 4, "reserved / broadcast (240.0.0.0/4)"],
];

export function ipv4Refusal(addr: number): string | null {
  for (const [base, len, name] of IPV4_REFUSED) {
    const b = parseIPv4(base)!;
    const size = 2 ** (32 - len);
    if (addr >= b && addr < b + size) return name;
  }
  return null;
}

/** Parses the text inside brackets into 8 16-bit groups (accepts `::` and a trailing dotted IPv4). */
export function parseIPv6(text: string): number[] | null {
  if (text.includes("%")) return null; // zone ids have no meaning for a remote fetch
  let s = text.toLowerCase();
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted !== null) {
    const v4 = parseIPv4(dotted[1]!);
    if (v4 === null) return null;
    tail.push(Math.floor(v4 / 65536), v4 % 65536);
    s = s.slice(0, -dotted[1]!.length);
    if (s.endsWith(":") && !s.endsWith("::")) s = s.slice(0, -1);
  }
  const hex = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = hex(halves[0]!);
  const rest = halves.length === 2 ? hex(halves[1]!) : [];
  if (head === null || rest === null) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 && known !== 8) return null;
  if (halves.length === 2 && known > 7) return null;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

function v4From(hi: number, lo: number): number {
  return hi * 65536 + lo;
}

function v4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function ipv6Refusal(g: readonly number[]): string | null {
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0] = g;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeros(8)) return "unspecified (::)";
  if (zeros(7) && g[7] === 1) return "loopback (::1)";
  if (zeros(5) && f === 0xffff) return "IPv4-mapped (::ffff:0:0/96)";
  if (zeros(4) && e === 0xffff && f === 0) return "IPv4-translated (::ffff:0:0:0/96)";
  if (zeros(6)) return "IPv4-compatible (::/96)";
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return "NAT64 (64:ff9b::/96)";
  if (a === 0x64 && b === 0xff9b && c === 1) return "local-use NAT64 (64:ff9b:1::/48)";
  if (a === 0x2001 && b === 0) return "Teredo (2001::/32)";
  if (a === 0x2001 && b === 0xdb8) return "documentation (2001:db8::/32)";
  if (a === 0x2002) {
    const embedded = v4From(b, c);
    const why = ipv4Refusal(embedded);
    if (why !== null) return `6to4 (2002::/16) embedding ${v4Text(embedded)}, ${why}`;
    return null;
  }
  if ((a & 0xffc0) === 0xfe80) return "link-local (fe80::/10)";
  if ((a & 0xffc0) === 0xfec0) return "site-local (fec0::/10)";
  if ((a & 0xfe00) === 0xfc00) return "unique-local (fc00::/7)";
  if ((a & 0xff00) === 0xff00) return "multicast (ff00::/8)";
  // Everything else outside global unicast (2000::/3) is reserved or special-purpose (100::/64 discard, ...).
  if ((a & 0xe000) !== 0x2000) return "not global unicast (outside 2000::/3)";
  return null;
}
