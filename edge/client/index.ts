/**
 * A small typed client for the public API (edge/openapi.json). Its types come from the
 * operations the worker serves (edge/src/api/contract.ts, imported for types only), so a
 * request that does not fit an operation's parameters or body does not compile, and answers are
 * typed by operation. Runtime: `fetch`, `URL` and `Headers` only (no Node module), so it runs in
 * workers, browsers and Node alike.
 *
 * `request(op, args)` builds `{ url, init }` without sending it (for a load generator that times
 * its own fetch); `send(op, args)` sends it and reads the answer.
 *
 * ```ts
 * const api = createClient({ baseUrl: "http://127.0.0.1:8787", token });
 * const page = await api.send("getFeed", { query: { limit: 20 } });
 * if (page.ok) console.log(page.data.items.length, page.headers.get("x-cache"));
 * await api.send("like", { params: { id: page.data.items[0].post_id } });
 * const { url, init } = api.request("getFeed", { query: { cursor: "…" } }); // not sent
 * ```
 */
import type { z } from "zod";
import type { OperationId, Operations, RequestBodyTypes } from "../src/api/contract.ts";

export type { OperationId } from "../src/api/contract.ts";

/** Method and path template of every operation (a unit test checks them against the document). */
export const OPERATIONS = {
  getHealth: ["GET", "/healthz"],
  getOpenApiDocument: ["GET", "/openapi.json"],
  getApiReference: ["GET", "/docs"],
  getFeed: ["GET", "/api/v1/feed"],
  getTrending: ["GET", "/api/v1/trending"],
  getSuggestedUsers: ["GET", "/api/v1/discover/suggested-users"],
  getPostStats: ["GET", "/api/v1/posts/{id}/stats"],
  postEvents: ["POST", "/api/v1/events"],
  getUser: ["GET", "/api/v1/users/{id}"],
  getUserPosts: ["GET", "/api/v1/users/{id}/posts"],
  getFollowers: ["GET", "/api/v1/users/{id}/followers"],
  getFollowing: ["GET", "/api/v1/users/{id}/following"],
  getPost: ["GET", "/api/v1/posts/{id}"],
  getComments: ["GET", "/api/v1/posts/{id}/comments"],
  putProfile: ["PUT", "/api/v1/users/me"],
  createPost: ["POST", "/api/v1/posts"],
  deletePost: ["DELETE", "/api/v1/posts/{id}"],
  follow: ["PUT", "/api/v1/follows/{user_id}"],
  unfollow: ["DELETE", "/api/v1/follows/{user_id}"],
  like: ["PUT", "/api/v1/posts/{id}/like"],
  unlike: ["DELETE", "/api/v1/posts/{id}/like"],
  createComment: ["POST", "/api/v1/posts/{id}/comments"],
  deleteComment: ["DELETE", "/api/v1/comments/{id}"],
  block: ["PUT", "/api/v1/blocks/{user_id}"],
  unblock: ["DELETE", "/api/v1/blocks/{user_id}"],
  getNotifications: ["GET", "/api/v1/notifications"],
  markNotificationsSeen: ["POST", "/api/v1/notifications/seen"],
  openLiveChannel: ["GET", "/api/v1/live"],
} as const satisfies Record<OperationId, readonly [string, string]>;

type Request<Op extends OperationId> = Operations[Op] extends { request: infer R } ? R : Record<never, never>;

/** Query values as a caller writes them: numbers and booleans are sent as their decimal/`true` text. */
type Loose<T> = T extends string ? (string extends T ? T | number : T | boolean) : T;
type QueryOf<Op extends OperationId> =
  Request<Op> extends { query: infer Q extends z.ZodType } ? { [K in keyof z.input<Q>]?: Loose<z.input<Q>[K]> } : never;
type ParamsOf<Op extends OperationId> = Request<Op> extends { params: infer P extends z.ZodType } ? z.input<P> : never;
type BodyOf<Op extends OperationId> = Op extends keyof RequestBodyTypes ? RequestBodyTypes[Op] : never;

type Part<Name extends string, T> = [T] extends [never] ? { [K in Name]?: never } : { [K in Name]: T };
type OptionalPart<Name extends string, T> = [T] extends [never] ? { [K in Name]?: never } : { [K in Name]?: T };

/** What an operation takes: its path params (required), query and body, and per-request extras. */
export type Args<Op extends OperationId> = Part<"params", ParamsOf<Op>> &
  OptionalPart<"query", QueryOf<Op>> &
  Part<"body", BodyOf<Op>> & {
    /** A bearer token for this request (overrides the client's). */
    token?: string;
    /** Extra headers (e.g. X-Request-Id). */
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };

type HasRequired<Op extends OperationId> = [ParamsOf<Op>] extends [never]
  ? [BodyOf<Op>] extends [never]
    ? false
    : true
  : true;
/** `args` may be left out when the operation needs no params or body. */
export type ArgsParam<Op extends OperationId> = HasRequired<Op> extends true ? [args: Args<Op>] : [args?: Args<Op>];

type SuccessStatus = 200 | 201 | 202 | 204;
type Responses<Op extends OperationId> = Operations[Op]["responses"];
type SuccessOf<Op extends OperationId> = Extract<keyof Responses<Op>, SuccessStatus>;
/** The answer's body on success: the schema's output, or undefined for 204 / a non-JSON page. */
export type Data<Op extends OperationId> = {
  [S in SuccessOf<Op>]: Responses<Op>[S] extends {
    content: { "application/json": { schema: infer T extends z.ZodType } };
  }
    ? z.output<T>
    : Responses<Op>[S] extends { content: { "text/html": unknown } }
      ? string
      : undefined;
}[SuccessOf<Op>];

/** The one error envelope. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export type Result<Op extends OperationId> =
  | { ok: true; status: number; data: Data<Op>; headers: Headers; response: Response }
  | { ok: false; status: number; error: ApiErrorBody["error"]; headers: Headers; response: Response };

/** A request built and not sent. */
export interface BuiltRequest {
  url: string;
  init: RequestInit & { method: string; headers: Record<string, string> };
}

export interface ClientOptions {
  /** Where the worker answers, e.g. `https://feed.example.com` (no trailing path). */
  baseUrl: string;
  /** Default bearer token (a user's JWT). */
  token?: string;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to send with (default: the global one). */
  fetch?: typeof fetch;
}

/** Builds the URL and RequestInit of one operation (pure: nothing is sent). */
export function buildRequest<Op extends OperationId>(
  options: Pick<ClientOptions, "baseUrl" | "token" | "headers">,
  op: Op,
  ...[args]: ArgsParam<Op>
): BuiltRequest {
  const [method, template] = OPERATIONS[op];
  const a = (args ?? {}) as {
    params?: Record<string, string>;
    query?: Record<string, string | number | boolean | undefined>;
    body?: unknown;
    token?: string;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  };
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = a.params?.[name];
    if (value === undefined) throw new Error(`${op}: path parameter ${name} is missing`);
    return encodeURIComponent(value);
  });
  const url = new URL(path, options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`);
  for (const [k, v] of Object.entries(a.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { ...options.headers, ...a.headers };
  const token = a.token ?? options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const init: BuiltRequest["init"] = { method, headers };
  if (a.body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(a.body);
  }
  if (a.signal) init.signal = a.signal;
  return { url: url.toString(), init };
}

/** Reads an answer of `op`: the typed body on success, the envelope's error otherwise. */
export async function readResult<Op extends OperationId>(response: Response): Promise<Result<Op>> {
  const { status, headers } = response;
  const text = await response.text();
  const type = headers.get("content-type") ?? "";
  const parsed: unknown = text && /json/i.test(type) ? JSON.parse(text) : text || undefined;
  if (response.ok) return { ok: true, status, data: parsed as Data<Op>, headers, response };
  const error = (parsed as Partial<ApiErrorBody> | undefined)?.error ?? {
    code: "unknown",
    message: `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`,
  };
  return { ok: false, status, error, headers, response };
}

export interface Client {
  /** Builds `{ url, init }` for `op`; nothing is sent. */
  request<Op extends OperationId>(op: Op, ...args: ArgsParam<Op>): BuiltRequest;
  /** Sends `op` and reads its answer. */
  send<Op extends OperationId>(op: Op, ...args: ArgsParam<Op>): Promise<Result<Op>>;
  /** `send`, and the data; throws (with the envelope's code and message) unless the answer is a success. */
  call<Op extends OperationId>(op: Op, ...args: ArgsParam<Op>): Promise<Data<Op>>;
}

/** An error answer, thrown by `call`. */
export class ApiCallError extends Error {
  override readonly name = "ApiCallError";
  constructor(
    readonly op: OperationId,
    readonly status: number,
    readonly error: ApiErrorBody["error"],
  ) {
    super(`${op}: ${status} ${error.code}: ${error.message}`);
  }
}

export function createClient(options: ClientOptions): Client {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const client: Client = {
    request: (op, ...args) => buildRequest(options, op, ...args),
    async send(op, ...args) {
      const { url, init } = buildRequest(options, op, ...args);
      return readResult(await doFetch(url, init));
    },
    async call(op, ...args) {
      const result = await client.send(op, ...args);
      if (!result.ok) throw new ApiCallError(op, result.status, result.error);
      return result.data;
    },
  };
  return client;
}
