/**
 * Command-line arguments of the scripts: `node:util` parseArgs in strict mode. Every problem
 * (an unknown flag, a flag without its value, an extra argument, a bad number) becomes one
 * UsageError whose message names it and repeats the usage line; CLIs print the message.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs' own messages go on about `--`; the first sentence is the useful part. */
function firstSentence(message: string): string {
  const i = message.indexOf(". ");
  return i < 0 ? message : message.slice(0, i);
}

function isParseArgsError(err: unknown): err is Error & { code: string } {
  return err instanceof TypeError && String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS_");
}

/**
 * Parses `args` (default: this process's arguments) against `options`. At most `positionals`
 * arguments without a flag are accepted (default none).
 */
export function parseCli<const O extends Options>(
  usage: string,
  options: O,
  { args = process.argv.slice(2), positionals = 0 }: { args?: string[]; positionals?: number } = {},
) {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    if (isParseArgsError(err)) throw new UsageError(`${firstSentence(err.message)}\nusage: ${usage}`, { cause: err });
    throw err;
  }
  const extra = parsed.positionals.slice(positionals);
  if (extra.length > 0) throw new UsageError(`Unexpected argument '${extra[0]}'\nusage: ${usage}`);
  return parsed;
}

/**
 * An integer argument: `fallback` when absent, else a whole number >= `min`, or a UsageError
 * naming `what` (a flag such as `--users`, or a positional's name).
 */
export function intArg(usage: string, what: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`${what} must be a whole number >= ${min}, not '${raw}'\nusage: ${usage}`);
  }
  return n;
}

/** Runs a CLI's argument handling; on a UsageError prints it (with `tag`) and exits with status 2. */
export function argsOrExit<T>(tag: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${tag} ${err.message}`);
    process.exit(2);
  }
}
