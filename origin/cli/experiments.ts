/**
 * `npm run experiments -- <command>`: the operator's client of the origin's experiments API.
 *
 *   list
 *   get <name>
 *   create <file.json | ->            a new draft (body: edge/core/experiments/schema.ts newExperimentSchema)
 *   update <name> <file.json | ->     replace a draft's variants
 *   start <name>
 *   stop <name>
 *   promote <name> [variant]          default: the experiment's candidate
 *   results <name> [--daily] [--json] the comparison table
 *
 * ORIGIN_URL (default http://127.0.0.1:8788) and OPERATOR_TOKEN (default: the local-dev token)
 * say where and as whom; OPERATOR_NAME goes to the audit trail (X-Operator).
 */
import { readFileSync } from "node:fs";
import { formatResultsTable, type VariantResult } from "#core/experiments/statistics.ts";

const USAGE = `usage: npm run experiments -- <list | get <name> | create <file|-> | update <name> <file|-> |
  start <name> | stop <name> | promote <name> [variant] | results <name> [--daily] [--json]>`;

const origin = (process.env.ORIGIN_URL ?? "http://127.0.0.1:8788").replace(/\/+$/, "");
const token = process.env.OPERATOR_TOKEN ?? "local-dev-operator-token-0123456789";

async function api(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${origin}/v1/experiments${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(process.env.OPERATOR_NAME ? { "x-operator": process.env.OPERATOR_NAME } : {}),
    },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) {
    const e = (json as { error?: { code: string; message: string } }).error;
    throw new Error(e ? `${res.status} ${e.code}: ${e.message}` : `${res.status}: ${text.slice(0, 300)}`);
  }
  return json;
}

function readJson(arg: string | undefined): unknown {
  if (!arg) throw new Error(USAGE);
  return JSON.parse(readFileSync(arg === "-" ? 0 : arg, "utf8"));
}

const need = (v: string | undefined): string => {
  if (!v) throw new Error(USAGE);
  return v;
};

function printResults(out: {
  experiment: { name: string; status: string; promoted: string | null; started_at: string | null };
  variants: VariantResult[];
  daily?: unknown[];
}): void {
  const e = out.experiment;
  console.log(
    `${e.name} (${e.status}${e.promoted ? `, promoted: ${e.promoted}` : ""}, started ${e.started_at ?? "-"})`,
  );
  console.log(formatResultsTable(out.variants));
  console.log("Δpp: difference from the control in percentage points; * = significant at 5% (two-proportion z-test)");
  if (out.daily) console.table(out.daily);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, a, b] = argv.filter((x) => !x.startsWith("--"));
  const flags = new Set(argv.filter((x) => x.startsWith("--")));
  const show = (v: unknown) => console.log(JSON.stringify(v, null, 2));
  switch (cmd) {
    case "list": {
      const { experiments } = (await api("GET", "")) as {
        experiments: {
          name: string;
          status: string;
          control: string;
          candidate: string | null;
          promoted: string | null;
          variants: { name: string; share: number }[];
        }[];
      };
      console.table(
        experiments.map((e) => ({
          name: e.name,
          status: e.status,
          variants: e.variants.map((v) => `${v.name} ${v.share}%`).join(", "),
          control: e.control,
          candidate: e.candidate ?? "",
          promoted: e.promoted ?? "",
        })),
      );
      return;
    }
    case "get":
      return show(await api("GET", `/${need(a)}`));
    case "create":
      return show(await api("POST", "", readJson(a)));
    case "update":
      return show(await api("PUT", `/${need(a)}`, readJson(b)));
    case "start":
    case "stop":
      return show(await api("POST", `/${need(a)}/${cmd}`));
    case "promote":
      return show(await api("POST", `/${need(a)}/promote`, b ? { variant: b } : {}));
    case "results": {
      const out = await api("GET", `/${need(a)}/results${flags.has("--daily") ? "?daily=1" : ""}`);
      if (flags.has("--json")) return show(out);
      return printResults(out as Parameters<typeof printResults>[0]);
    }
    default:
      throw new Error(USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
