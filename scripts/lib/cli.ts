/**
 * The command-line shape every script shares: strict flags, `-h/--help` prints the usage and exits 0,
 * a usage error names the command and exits 2, and the flag checkers say what is allowed.
 */
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";

export type Fail = (msg: string) => never;

/** A usage error of `command`: printed with a pointer to --help, exit code 2. */
export function usageError(command: string): Fail {
  return (msg: string): never => {
    console.error(`${command}: ${msg}\n(npm run ${command} -- --help for usage)`);
    process.exit(2);
  };
}

/** parseArgs with strict flags; --help prints `help` and exits 0, a bad flag is a usage error. */
export function parseCli<T extends ParseArgsConfig>(command: string, help: string, config: T): ReturnType<typeof parseArgs<T>> {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs<T>({ strict: true, ...config });
  } catch (e) {
    return usageError(command)((e as Error).message);
  }
  if ((parsed.values as Record<string, unknown>).help) {
    console.log(help);
    process.exit(0);
  }
  return parsed;
}

/** An optional integer flag in min..max (undefined when absent). */
export function intFlag(value: string | undefined, flag: string, min: number, max: number, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) fail(`${flag} must be an integer in ${min}..${max}, got "${value}"`);
  return n;
}

/** An optional positive integer flag. */
export function positiveInt(value: string | undefined, flag: string, fail: Fail): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n <= 0) fail(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

/** An optional flag that must be one of `allowed`. */
export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fail: Fail): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) fail(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
  return value as T;
}

/** The bytes of an input file named on the command line; a missing or unreadable one is a usage error naming it. */
export function readInput(path: string, fail: Fail): Uint8Array<ArrayBuffer> {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? `${path}: no such file (give the path of a PNG or JPEG photo)` : `${path}: cannot be read (${(e as Error).message})`);
  }
}
